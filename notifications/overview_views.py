"""The Overview screen (the home page): charts and top lists of :mod:`notifications.overview`, drawn as SVG.

Each part shows only to those who may view what it counts: events, images and findings need *Can view security
event*, notifications, outputs and policies *Can view notification*. Without either right the page is a 403. Every
figure counts what lies in the person's active scopes (the header's switcher).
"""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views import View

from kcs import charts
from kcs.rights import VIEW_EVENTS, VIEW_INTEGRATIONS
from kcs.visibility import visibility_of
from notifications import overview

VIEW_NOTIFICATIONS = VIEW_INTEGRATIONS  # the delivery log's right


def _time_chart(figure: overview.TimeFigure, period: overview.Period, chart_id: str, what: str) -> SafeString:
    chart = charts.stacked_columns(
        [bucket.label for bucket in figure.buckets],
        [charts.Series(s.name, s.css_class, s.values, s.links) for s in figure.series],
        label_every=period.label_every,
    )
    totals = ", ".join(f"{s.total} {s.name.lower()}" for s in figure.series)
    return charts.render(
        chart,
        chart_id,
        f"{what} by {'severity' if chart_id.startswith('events') else 'status'}, {period.label}",
        f"Stacked columns of {what.lower()} per time slot, one colour per "
        f"{'severity' if chart_id.startswith('events') else 'final status'}: {totals}. "
        "The table of numbers per time slot is beside the chart.",
    )


def slot_table(figure: overview.TimeFigure) -> SafeString:
    """The chart's numbers: one row per time slot, a linked count per series (built here for the same reason as
    the SVG: hundreds of cells)."""
    head = "".join(f"<th>{escape(s.name)}</th>" for s in figure.series)
    rows = []
    for row in figure.rows:
        cells = "".join(
            f'<td><a href="{escape(href)}">{value}</a></td>' if value else "<td>0</td>" for value, href in row["cells"]
        )
        rows.append(f'<tr><td class="nowrap">{row["bucket"].start:%Y-%m-%d %H:%M}</td>{cells}</tr>')
    return mark_safe(  # noqa: S308 - names and links escaped, the rest numbers and dates
        f'<table class="table compact"><thead><tr><th>From (UTC)</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _bars(rows: list[charts.Row], unit: str, chart_id: str, title: str, description: str) -> SafeString:
    return charts.render(charts.horizontal_bars(rows, unit=unit), chart_id, title, description)


class OverviewView(LoginRequiredMixin, View):
    def get(self, request):
        user = request.user
        can_events, can_notifications = user.has_perm(VIEW_EVENTS), user.has_perm(VIEW_NOTIFICATIONS)
        if not (can_events or can_notifications):
            raise PermissionDenied("Viewing the overview needs the right to view security events or notifications.")
        slug = request.GET.get("period") or overview.DEFAULT_PERIOD
        if slug not in overview.PERIODS:
            slug = overview.DEFAULT_PERIOD
        period = overview.PERIODS[slug]
        now = timezone.now()
        visibility = visibility_of(request)
        context = {"period": period, "periods": overview.PERIODS.values(), "can_events": can_events}
        context["can_notifications"] = can_notifications
        if can_events:
            events = overview.events_by_severity(period, now, visibility)
            images = overview.top_images(visibility)
            findings = overview.top_findings(visibility)
            context.update(
                events=events,
                events_chart=_time_chart(events, period, "events-chart", "Events"),
                events_table=slot_table(events),
                top_images=images,
                images_chart=_bars(
                    [charts.Row(i["image"].name, i["critical"] + i["high"], i["link"], "fill-high") for i in images],
                    "critical and high findings",
                    "images-chart",
                    "Top images by critical and high open findings",
                    "One bar per image, its critical plus high open findings; the table below gives each number.",
                ),
                top_findings=findings,
                findings_chart=_bars(
                    [
                        charts.Row(f["finding_id"], f["images"], f["link"], f"fill-{f['severity'].slug}")
                        for f in findings
                    ],
                    "images",
                    "findings-chart",
                    "Top findings by affected images",
                    "One bar per finding ID, the number of images where it is open; the table below gives each number.",
                ),
            )
        if can_notifications:
            notifications = overview.notifications_by_status(period, now, visibility)
            policies = overview.busiest_policies(period, now, visibility)
            context.update(
                notifications=notifications,
                notifications_chart=_time_chart(notifications, period, "notifications-chart", "Notifications"),
                notifications_table=slot_table(notifications),
                failed_outputs=overview.failed_outputs(now, visibility),
                policies=policies,
                policies_chart=_bars(
                    [charts.Row(p["name"], p["notifications"], p["link"], "fill-series-0") for p in policies],
                    "notifications",
                    "policies-chart",
                    f"Policies by notifications, {period.label}",
                    "One bar per response policy, the notifications it made in the period (sent, failed, suppressed "
                    "or still on their way); the table below gives each number.",
                ),
            )
        return render(request, "notifications/overview.html", context)
