"""When retrains run: the seed's daily and weekly cron triggers, and the catch-up rule."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from ..config import ScheduleSettings, Settings

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

DAILY_JOB, WEEKLY_JOB, CATCH_UP_JOB = "daily_retrain", "weekly_full_retrain", "catch_up_retrain"
MONITOR_JOB = "daily_monitoring"
Missed = Literal["daily", "full"]


def triggers(schedule: ScheduleSettings) -> tuple[CronTrigger, CronTrigger]:
    """The daily and the weekly cron triggers."""
    # Imported here: `history` and `models` never need APScheduler (about 0.1 s to import).
    from apscheduler.triggers.cron import CronTrigger

    zone = {"timezone": schedule.timezone} if schedule.timezone else {}
    daily = CronTrigger(hour=schedule.daily_hour, minute=schedule.daily_minute, **zone)
    weekly = CronTrigger(
        day_of_week=schedule.weekly_day,
        hour=schedule.weekly_hour,
        minute=schedule.weekly_minute,
        **zone,
    )
    return daily, weekly


def monitoring_trigger(settings: Settings) -> CronTrigger:
    """The daily monitoring job: after the day's bars arrive (monitoring.daily_hour)."""
    from apscheduler.triggers.cron import CronTrigger

    zone = settings.retraining.schedule.timezone
    return CronTrigger(
        hour=settings.monitoring.daily_hour,
        minute=settings.monitoring.daily_minute,
        **({"timezone": zone} if zone else {}),
    )


def next_daily_run(schedule: ScheduleSettings, now: datetime) -> datetime | None:
    daily, _ = triggers(schedule)
    return daily.get_next_fire_time(None, now)


def missed_run(
    last_started: datetime | None, now: datetime, schedule: ScheduleSettings
) -> Missed | None:
    """``"full"`` or ``"daily"`` when a scheduled run fell due since the last run started.

    However many runs were missed (the machine was off), one catch-up run is enough. A weekly
    run missed within the last week wins; a daily one counts while the newest missed fire time
    is within a day (or the misfire grace, if longer).
    """
    if last_started is None:
        return None
    daily, weekly = triggers(schedule)
    missed_weekly = weekly.get_next_fire_time(None, last_started)
    if (
        missed_weekly
        and missed_weekly <= now
        and (now - missed_weekly).total_seconds() <= 7 * 86400
    ):
        return "full"
    latest_due = daily.get_next_fire_time(None, last_started)
    if latest_due is None or latest_due > now:
        return None
    while (following := daily.get_next_fire_time(latest_due, latest_due)) and following <= now:
        latest_due = following
    if (now - latest_due).total_seconds() <= max(schedule.misfire_grace_seconds, 86400):
        return "daily"
    return None
