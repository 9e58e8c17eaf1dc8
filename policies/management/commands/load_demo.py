"""Load demonstration data: scopes, an email output, three response policies and a scan's worth of events.

Everything goes through the same services as the screens and the API (validation, audit log, evaluation after
commit), so the demo shows the product as it really behaves. Running it again adds nothing already there.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from events import services as event_services
from notifications import services as output_services
from notifications.models import NotificationIntegration
from policies import services as policy_services
from policies.models import ResponsePolicy, Scope, Trigger
from policies.validation import MethodChoice

SCOPES = [
    {"name": "Production clusters", "description": "Workloads in the prod-* clusters.", "clusters": ["prod-*"]},
    {
        "name": "Shop images",
        "description": "Images of the shop team in the company registry.",
        "registries": ["registry.example.com"],
        "repositories": ["shop/*"],
    },
]
POLICIES = [
    ("Critical vulnerabilities in shop images", Trigger.CRITICAL_VULNERABILITIES, "Shop images", None),
    ("Runtime threats in production", Trigger.RUNTIME_THREATS, "Production clusters", 4),
    ("Leaked secrets anywhere", Trigger.SENSITIVE_DATA, "Global", None),
]
IMAGE = {
    "registry": "registry.example.com",
    "repository": "shop/payments",
    "tag": "2.3.1",
    "digest": "sha256:5d2c0b0b7c8a1f7e46a3d1c9e2f4b6a8d0c2e4f6a8b0d2c4e6f8a0b2d4c6e8f0",
}


def demo_events(now) -> list[dict]:
    scanned = (now - timedelta(minutes=5)).isoformat()
    vulns = [
        (
            "CVE-2023-5363",
            "critical",
            "openssl: incorrect cipher key and IV length processing",
            "libcrypto3",
            "3.1.3-r0",
            "3.1.4-r0",
            9.1,
        ),
        (
            "CVE-2024-45491",
            "critical",
            "libexpat: integer overflow in dtdCopy",
            "libexpat",
            "2.6.2-r0",
            "2.6.3-r0",
            9.8,
        ),
        ("CVE-2023-5678", "high", "openssl: excessive time spent in DH checks", "libssl3", "3.1.3-r0", "3.1.4-r1", 7.5),
        (
            "CVE-2024-2511",
            "medium",
            "openssl: unbounded memory growth with session handling",
            "libssl3",
            "3.1.3-r0",
            "3.1.4-r6",
            5.9,
        ),
    ]
    events = [
        {
            "type": "vulnerability",
            "severity": severity,
            "title": f"{cve}: {title}",
            "source": "trivy",
            "finding_id": cve,
            "package": package,
            "installed_version": installed,
            "fixed_version": fixed,
            "cvss": cvss,
            "occurred_at": scanned,
            "uid": f"demo:{cve}:{package}",
            **IMAGE,
        }
        for cve, severity, title, package, installed, fixed, cvss in vulns
    ]
    events.append(
        {
            "type": "sensitive_data",
            "severity": "critical",
            "title": "AWS access key in /app/config/settings.env",
            "source": "trivy",
            "finding_id": "aws-access-key-id",
            "occurred_at": scanned,
            "uid": "demo:aws-key",
            **IMAGE,
        }
    )
    events.append(
        {
            "type": "runtime",
            "severity": "critical",
            "title": "Terminal shell in container",
            "source": "falco",
            "finding_id": "Terminal shell in container",
            "cluster": "prod-eu-1",
            "namespace": "shop",
            "pod": "payments-7c9d5b7f4-x2k8q",
            "container": "payments",
            "node": "node-3",
            "registry": "registry.example.com",
            "repository": "shop/payments",
            "tag": "2.3.1",
            "occurred_at": now.isoformat(),
            "uid": "demo:falco:shell",
            "details": {
                "output": "A shell was spawned in a container (user=root shell=bash)",
                "tags": ["mitre_execution"],
            },
        }
    )
    return events


class Command(BaseCommand):
    help = "Load demonstration scopes, an email output, three response policies and sample security events."

    def add_arguments(self, parser):
        parser.add_argument(
            "--recipient",
            default="platform-team@example.com",
            help="Address of the demo email output (default: platform-team@example.com)",
        )

    def handle(self, *args, recipient: str, **options):
        scopes = {scope.name: scope for scope in Scope.objects.all()}
        for values in SCOPES:
            if values["name"] not in scopes:
                scopes[values["name"]] = policy_services.create_scope(None, values)
        email = NotificationIntegration.objects.filter(name="Platform team mailbox").first()
        if email is None:
            form = output_services.form_for(
                "email",
                {
                    "name": "Platform team mailbox",
                    "enabled": "on",
                    "recipients": recipient,
                    "smtp_mode": "system",
                },
            )
            if not form.is_valid():
                raise CommandError(f"Demo email output refused: {form.errors.as_text()}")
            email = output_services.save_integration(None, "email", form)
        for name, trigger, scope_name, threshold in POLICIES:
            if not ResponsePolicy.objects.filter(name=name).exists():
                policy_services.create_policy(
                    None,
                    {
                        "name": name,
                        "description": "Created by load_demo.",
                        "enabled": True,
                        "scopes": [scopes[scope_name]],
                        "trigger": trigger,
                        "min_severity": threshold,
                        "notification_methods": [MethodChoice(email)],
                    },
                )
        result = event_services.ingest(demo_events(timezone.now()), source="demo")
        self.stdout.write(
            f"Demo loaded: {len(SCOPES)} scopes, 1 email output ({recipient}), {len(POLICIES)} policies; "
            f"{result.created} new events ({result.duplicates} already there)."
        )
