"""Libra's bootstrap for inline Python jobs.

Libra stores a job's inline Python in the artifacts bucket and runs this script as the job's
entry point, with the code's URI as its first argument and the job's own arguments after it.
It starts Libra's progress reporter (libra_progress.py, shipped beside it), then runs the code
as `python3 code.py args...` would: as `__main__`, with sys.argv = [code path, args...], the
code's folder first on sys.path, and the same exit code (an uncaught exception exits 1 with its
traceback, sys.exit(n) exits n). A reporter that cannot start or report changes none of that.
"""

import os
import runpy
import sys
import tempfile
import urllib.parse


def local_copy(uri):
    """A local path for the code: itself for a path or file:// URL, a download for s3://."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme == "file":
        return urllib.parse.unquote(parsed.path)
    if parsed.scheme == "s3":
        import boto3

        path = os.path.join(tempfile.mkdtemp(prefix="libra-"), os.path.basename(parsed.path) or "main.py")
        boto3.client("s3").download_file(parsed.netloc, parsed.path.lstrip("/"), path)
        return path
    if parsed.scheme == "":
        return uri
    sys.exit("libra_bootstrap.py: cannot read the code at %s: only s3://, file:// and paths" % uri)


def start_progress():
    try:
        import libra_progress

        libra_progress.start()
    except Exception as error:
        print("libra_bootstrap.py: no progress reports (the job goes on): %s" % error, file=sys.stderr)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: libra_bootstrap.py <code URI> [arguments...]")
    path = local_copy(sys.argv[1])
    start_progress()
    sys.argv = [path] + sys.argv[2:]
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    runpy.run_path(path, run_name="__main__")


if __name__ == "__main__":
    main()
