"""The Overview screen (the home page): charts and top lists of :mod:`notifications.overview`, drawn as SVG.

Each part shows only to those who may view what it counts: events, images and findings need *Can view security
event*, notifications, outputs and policies *Can view notification*. Without either right the page is a 403.
"""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone
from django.views import View

from kcs import charts
from notifications import overview

VIEW_EVENTS = "events.view_securityevent"
VIEW_NOTIFICATIONS = "notifications.view_notification"


def _time_chart(figure: overview.TimeFigure, period: overview.Period) -> charts.Chart:
    return charts.stacked_columns(
        [bucket.label for bucket in figure.buckets],
        [charts.Series(s.name, s.css_class, s.values, s.links) for s in figure.series],
        label_every=period.label_every,
    )


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
        context = {"period": period, "periods": overview.PERIODS.values(), "can_events": can_events}
        context["can_notifications"] = can_notifications
        if can_events:
            events = overview.events_by_severity(period, now)
            images = overview.top_images()
            findings = overview.top_findings()
            context.update(
                events=events,
                events_chart=_time_chart(events, period),
                top_images=images,
                images_chart=charts.horizontal_bars(
                    [charts.Row(i["image"].name, i["critical"] + i["high"], i["link"], "fill-high") for i in images],
                    unit="critical and high findings",
                ),
                top_findings=findings,
                findings_chart=charts.horizontal_bars(
                    [
                        charts.Row(f["finding_id"], f["images"], f["link"], f"fill-{f['severity'].slug}")
                        for f in findings
                    ],
                    unit="images",
                ),
            )
        if can_notifications:
            notifications = overview.notifications_by_status(period, now)
            policies = overview.busiest_policies(period, now)
            context.update(
                notifications=notifications,
                notifications_chart=_time_chart(notifications, period),
                failed_outputs=overview.failed_outputs(now),
                policies=policies,
                policies_chart=charts.horizontal_bars(
                    [charts.Row(p["name"], p["notifications"], p["link"], "fill-series-0") for p in policies],
                    unit="notifications",
                ),
            )
        return render(request, "notifications/overview.html", context)
