"""Dependency audit with what this workplace can reach: PyPI's project JSON (latest release + its advisories).

pip-audit needs per-version vulnerability data (PyPI's /pypi/<name>/<version>/json or OSV), which is not
reachable here. For an installed distribution that is the latest release, the project JSON's
`vulnerabilities` list is exactly its advisories: any entry fails. One behind the latest is reported as
not auditable (and should be upgraded), never silently passed.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from importlib.metadata import distributions

ACCEPTED: dict[str, str] = {}  # name -> why a finding is accepted; empty: no finding is accepted


def main() -> int:
    failures, behind, checked = [], [], 0
    for dist in sorted(distributions(), key=lambda d: d.metadata["Name"].lower()):
        name, version = dist.metadata["Name"], dist.version
        if name.lower() in ("healthbot", "pip", "setuptools", "wheel"):
            continue
        try:
            with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=10) as response:
                data = json.load(response)
        except OSError as exc:
            print(f"audit: cannot reach PyPI for {name}: {exc}")
            return 0 if "--lenient" in sys.argv else 1
        checked += 1
        if data["info"]["version"] != version:
            behind.append(f"{name} {version} (latest {data['info']['version']})")
            continue
        for advisory in data.get("vulnerabilities") or []:
            if name.lower() not in ACCEPTED:
                failures.append(f"{name} {version}: {advisory.get('id')} {advisory.get('summary') or ''}".strip())
    print(f"audit: {checked} distributions checked, {len(failures)} with advisories, {len(behind)} not auditable")
    for line in behind:
        print(f"  not the latest release, advisories unknown: {line}")
    for line in failures:
        print(f"  ADVISORY: {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
