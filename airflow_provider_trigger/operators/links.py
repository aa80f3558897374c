"""Extra links from an Airflow task to its Trigger.dev run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import BaseOperator, TaskInstanceKey

RUN_ID_XCOM_KEY = "run_id"
RUN_URL_XCOM_KEY = "run_url"


class TriggerRunLink(BaseOperatorLink):
    """ "View run in Trigger.dev": the dashboard URL the task pushed to XCom (key ``run_url``)."""

    name = "View run in Trigger.dev"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        url = XCom.get_value(ti_key=ti_key, key=RUN_URL_XCOM_KEY)
        return url if isinstance(url, str) else ""
