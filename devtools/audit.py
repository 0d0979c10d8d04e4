"""pip-audit of what the Lambda ships (requirements.txt and the vendored ONNX Runtime),
against PyPI's vulnerability data, told plainly: which packages were audited, which were
skipped and why (on these machines PyPI's per-release JSON API answers 404 and OSV is
unreachable, so every package is skipped), and each known vulnerability. Exit status 1
on a known vulnerability only: a skipped audit says so and does not fail."""

from __future__ import annotations

import json
import subprocess
import sys

from devtools import ROOT

REQUIREMENTS = ("requirements.txt", "requirements-vendored.txt")


def main(argv: list[str]) -> int:
    command = [str(ROOT / ".venv" / "bin" / "pip-audit"), "--no-deps", "--disable-pip", "--format", "json"]
    command += [word for name in REQUIREMENTS for word in ("--requirement", str(ROOT / name))]
    command += ["--vulnerability-service", "pypi", "--progress-spinner", "off", *argv]
    ran = subprocess.run(command, capture_output=True, text=True)
    try:
        found = json.loads(ran.stdout)["dependencies"]
    except (ValueError, KeyError):
        print(f"audit failed to run: {(ran.stderr.strip().splitlines() or ['no output'])[-1]}", file=sys.stderr)
        return 2
    skipped = [d for d in found if "skip_reason" in d]
    audited = [d for d in found if "skip_reason" not in d]
    vulnerable = [(d, v) for d in audited for v in d.get("vulns", [])]
    for dependency, vulnerability in vulnerable:
        fixed = ", ".join(vulnerability.get("fix_versions", [])) or "no fixed release"
        print(f"VULNERABLE: {dependency['name']} {dependency['version']}: {vulnerability['id']} (fixed in {fixed})")
    if audited:
        print(f"audited {len(audited)} of {len(found)} packages: {len(vulnerable)} known vulnerabilities")
    if skipped:
        reasons = {d["skip_reason"].split(":")[0] for d in skipped}
        print(
            f"skipped {len(skipped)} of {len(found)} packages, not known to be safe "
            f"({', '.join(d['name'] for d in skipped)}): {'; '.join(sorted(reasons))}"
        )
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
