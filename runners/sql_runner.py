"""Libra's runner for inline SQL jobs.

Libra stores a job's inline SQL next to this script in the artifacts bucket and runs this
script as the job's entry point, with the SQL file's URI as its one argument. Each statement
runs through spark.sql in order; the last one's result is shown, as the original Libra did.
Libra's progress reporter (libra_progress.py, shipped beside it) reports the stages and tasks
done from the driver while it runs; without it the SQL runs all the same.
"""

import sys

from pyspark.sql import SparkSession


def split_statements(text):
    """Splits SQL on semicolons that are outside quotes and comments."""
    statements, current, quote, i = [], [], None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"', "`"):
            quote = ch
            current.append(ch)
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif ch == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def start_progress(spark):
    try:
        import libra_progress

        return libra_progress.start(spark_context=spark.sparkContext)
    except Exception as error:
        print("sql_runner.py: no progress reports (the job goes on): %s" % error, file=sys.stderr)
        return None


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: sql_runner.py <sql file URI>")
    spark = SparkSession.builder.appName("libra-sql").getOrCreate()
    start_progress(spark)
    text = "\n".join(row.value for row in spark.read.text(sys.argv[1], wholetext=True).collect())
    result = None
    for statement in split_statements(text):
        result = spark.sql(statement)
    if result is not None:
        result.show(20, truncate=False)
    spark.stop()


if __name__ == "__main__":
    main()
