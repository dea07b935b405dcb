"""Container health probe without curl: exit 0 when the URL answers 2xx.

The URL is argv[1], by default the API's /healthz.
"""

import os
import sys
import urllib.request

url = (
    sys.argv[1]
    if len(sys.argv) > 1
    else f"http://127.0.0.1:{os.environ.get('DXNAVI_API_PORT', '8000')}/healthz"
)
try:
    with urllib.request.urlopen(url, timeout=5) as response:
        sys.exit(0 if 200 <= response.status < 300 else 1)
except OSError as exc:
    print(f"unhealthy: {url}: {exc}", file=sys.stderr)
    sys.exit(1)
