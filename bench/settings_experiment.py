"""Production settings with database-connection variations, for measuring a recommendation
before anyone changes config/settings (never used by Drover itself).

    BENCH_SERVER_SIDE_BINDING=1 python -m bench.torc_figures --settings bench.settings_experiment
    BENCH_CONN_HEALTH_CHECKS=0  python -m bench.torc_figures --settings bench.settings_experiment

BENCH_SERVER_SIDE_BINDING=1: psycopg server-side parameter binding (Django's
OPTIONS["server_side_binding"]). BENCH_PREPARE_THRESHOLD=5 (with it): psycopg prepares a
statement run 5 times on a connection (Django turns that off by default, for poolers), so hot
statements (claim, row locks, event inserts) are planned once per connection instead of once per
execution. BENCH_CONN_HEALTH_CHECKS=0: no "SELECT 1" before the first query of a request
on a reused connection.
"""

import os

from config.settings.prod import *  # noqa: F403
from config.settings.prod import DATABASES

if os.environ.get("BENCH_SERVER_SIDE_BINDING") == "1":
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
if os.environ.get("BENCH_PREPARE_THRESHOLD"):
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = int(os.environ["BENCH_PREPARE_THRESHOLD"])
if os.environ.get("BENCH_CONN_HEALTH_CHECKS") == "0":
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
