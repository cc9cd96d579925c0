"""Where a session's Spark UI is, and its pages for one job or stage.

The address is the driver's own UI (``sc.uiWebUrl``, this process's driver: on a cluster the kernel is
the driver) or, behind Spark's reverse proxy (``spark.ui.reverseProxy``), the application's page on the
proxy. None when there is no UI to link to: ``spark.ui.enabled=false``, or Spark Connect (the driver runs
in the Connect server, whose UI the kernel cannot vouch for): no link rather than a wrong one.
"""

from __future__ import annotations

from typing import Any

from .session import is_connect


def spark_ui_url(session: Any) -> str | None:
    """The UI's address for ``session`` (no trailing slash), or None. Asks the JVM: not for hot paths."""
    if session is None or is_connect(session):
        return None
    context = session.sparkContext
    conf = context.getConf()
    if conf.get("spark.ui.enabled", "true").strip().lower() == "false":
        return None
    direct = context.uiWebUrl
    if not direct:
        return None
    if conf.get("spark.ui.reverseProxy", "false").strip().lower() == "true":
        proxy = conf.get("spark.ui.reverseProxyUrl", None)
        if proxy:
            return f"{proxy.rstrip('/')}/proxy/{context.applicationId}"
    return str(direct).rstrip("/")


def job_url(ui: str, job_id: int) -> str:
    return f"{ui}/jobs/job/?id={job_id}"


def stage_url(ui: str, stage_id: int, attempt: int = 0) -> str:
    return f"{ui}/stages/stage/?id={stage_id}&attempt={attempt}"
