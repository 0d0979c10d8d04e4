"""Writes the page as a static file to host elsewhere (an S3 website, say), pointed at the API.

    python -m devtools.static_page --api-base https://<api-id>.execute-api.<region>.amazonaws.com/api index.html

The API's stage must then name the page's origin in CORS_ALLOW_ORIGIN (README, "Deploying").
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chalicelib.page import render_index
from chalicelib.settings import LAMBDA_PAYLOAD_LIMIT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-base", required=True, help="the API's URL, stage prefix included")
    parser.add_argument("--max-body-bytes", type=int, default=LAMBDA_PAYLOAD_LIMIT)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    args.out.write_text(render_index(args.max_body_bytes, api_base=args.api_base.rstrip("/")))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
