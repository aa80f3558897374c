"""Airflow imports a trigger's module on the triggerer's event loop: keep that import light."""

from __future__ import annotations

import subprocess
import sys


def test_the_triggers_do_not_import_requests() -> None:
    """``requests`` (~0.4 s to import) is only for the sync client; the triggerer never needs it."""
    code = (
        "import sys\n"
        "import airflow_provider_trigger.triggers\n"
        "from airflow_provider_trigger.hooks import TriggerHook\n"
        "print(sorted(m for m in ('requests', 'urllib3', 'charset_normalizer') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_the_sync_client_still_imports_requests_when_used() -> None:
    code = (
        "import sys\n"
        "from airflow_provider_trigger.client import TriggerClient\n"
        "TriggerClient(api_key='tr_dev_x', base_url='http://127.0.0.1:9').close()\n"
        "print('requests' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "True", done.stdout
