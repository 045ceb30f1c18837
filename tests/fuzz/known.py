"""What the fuzzer finds today and tolerates until it is fixed. Every entry is temporary:
test_known.py fails once the schema documents a listed status, and every bug here has an
xfail(strict=True) test in test_regressions.py that fails once the bug is fixed; delete the entry
then. Refresh with DROVER_FUZZ_SURVEY (harness.py)."""

# SECTION statuses the views really return that the schema does not list (operationId -> codes)
# Empty: apps/core/schema.py documents every operation's error statuses (rules, RAISED, NEVER).
# A status the fuzzer meets that the schema lacks fails the run: document it there (or, until
# it can be, list it here with the reason).

UNDOCUMENTED: dict[str, set[int]] = {}

# SECTION bugs of the server (operationId or "*" for all -> {failure kind: why}); kinds are
# harness.failure_kinds.
# A 5xx is never tolerated.

SHARED_ROUTE = ("By design, not a bug: Mitosis routes the attachment whose key is 'query'/'list' here too, "
                "so Allow names GET/DELETE; tolerated")

# Fixed so far (each with its case in test_regressions.py): wrong JSON types coerced, whitespace-padded
# strings over maxLength, empty integer/boolean query values, per-item answers to schema-violating batch
# items, an unread strict_scheduler_match.
BUGS: dict[str, dict[str, str]] = {
    "*": {},
    # Mitosis
    "queryAttachments": {"AllowHeaderMismatch": SHARED_ROUTE},
    "batchDownloadAttachmentsByKeys": {"AllowHeaderMismatch": SHARED_ROUTE},
}
