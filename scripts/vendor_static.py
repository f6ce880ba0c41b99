"""Refresh the web dashboard's vendored browser libraries from the npm registry.

Each file named in ``social_crm/web/static/vendor/manifest.json`` is taken from its npm
package's published tarball (``npm pack``), copied beside the manifest, and its sha256
recorded, so the app serves it itself: no CDN, no build step. Run ``make vendor`` after
changing a version in the manifest; ``tests/web/test_static.py`` checks the files match.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "social_crm" / "web" / "static" / "vendor"
MANIFEST = VENDOR / "manifest.json"


def fetch(package: str, version: str, into: Path) -> Path:
    """Download ``package@version``'s tarball with npm; the path of the .tgz."""
    result = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--silent", "--pack-destination", str(into)],
        check=True,
        capture_output=True,
        text=True,
    )
    return into / result.stdout.strip().splitlines()[-1]


def main() -> int:
    """Copy every manifest entry's file out of its package and record its checksum."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        tarballs: dict[tuple[str, str], Path] = {}
        for entry in manifest["files"]:
            key = (entry["package"], entry["version"])
            if key not in tarballs:
                tarballs[key] = fetch(*key, Path(tmp))
            with tarfile.open(tarballs[key]) as archive:
                member = archive.extractfile(f"package/{entry['file']}")
                if member is None:
                    sys.exit(f"{entry['package']}@{entry['version']} has no {entry['file']}")
                content = member.read()
            (VENDOR / entry["target"]).write_bytes(content)
            entry["sha256"] = hashlib.sha256(content).hexdigest()
            print(f"{entry['target']}: {entry['package']}@{entry['version']} {entry['file']}")
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
