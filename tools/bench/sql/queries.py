"""The benchmark's queries: each loss through the losskit UDAF and as the SQL a user would
write by hand (the naive formula, and the stable one), for DataFusion and DuckDB."""

LSE = "greatest(l0, l1, l2, l3, l4, l5, l6, l7, l8, l9)"
PICK = "CASE label " + " ".join(f"WHEN {c} THEN l{c}" for c in range(10)) + " END"
SUMEXP = " + ".join(f"exp(l{c})" for c in range(10))
SUMEXP_M = " + ".join(f"exp(l{c} - m)" for c in range(10))

QUERIES = [
    # (loss, form, file, select expression, FROM suffix)
    ("huber", "losskit UDAF", "regression", "huber(p, y)", ""),
    ("huber", "SQL expression", "regression",
     "avg(CASE WHEN abs(p - y) <= 1 THEN 0.5 * (p - y) * (p - y) ELSE abs(p - y) - 0.5 END)", ""),
    ("bce_with_logits", "losskit UDAF", "regression", "bce_with_logits(z, t)", ""),
    ("bce_with_logits", "SQL expression, naive", "regression",
     "avg(-(t * ln(1 / (1 + exp(-z))) + (1 - t) * ln(1 - 1 / (1 + exp(-z)))))", ""),
    ("bce_with_logits", "SQL expression, stable", "regression",
     "avg(greatest(z, 0) - z * t + ln(1 + exp(-abs(z))))", ""),
    ("cross_entropy", "losskit UDAF", "classes", "cross_entropy(logits, label)", ""),
    ("cross_entropy", "SQL expression, naive", "classes", f"avg(ln({SUMEXP}) - {PICK})", ""),
    ("cross_entropy", "SQL expression, stable", "classes",
     f"avg(m + ln({SUMEXP_M}) - {PICK})",
     f" (SELECT *, {LSE} AS m FROM '{{file}}') AS s"),
]


def sql(q, path, engine):
    loss, form, file, expr, sub = q
    f = f"{path}/{file}.parquet"
    src = sub.replace("{file}", f) if sub else f" '{f}'"
    if engine == "duckdb":
        expr = expr.replace("ln(", "ln(")  # same names in DuckDB
    return f"SELECT {expr} FROM{src}"
