"""What the fuzzer finds today and tolerates until it is fixed. Every entry is temporary:
test_known.py fails once the schema documents a listed status, and every bug here has an
xfail(strict=True) test in test_regressions.py that fails once the bug is fixed; delete the entry
then. Refresh with DROVER_FUZZ_SURVEY (harness.py)."""

# SECTION statuses the views really return that the schema does not list (operationId -> codes)

UNDOCUMENTED: dict[str, set[int]] = {
    # Mitosis
    "adminDeleteAttachment": {400},
    "adminDeleteTaskArtifact": {400},
    "adminDeleteUser": {404},
    "removeUserGroupParams": {400, 404},
    "cancelTask": {404},
    "getGroup": {404},
    "queryAttachment": {400},
    "downloadAttachment": {400},
    "getTask": {404},
    "downloadTaskArtifact": {400},
    "getTaskForWorker": {404},
    "downloadTaskArtifactForWorker": {400},
    "downloadAttachmentForWorker": {400},
    "adminChangeGroupStorageQuota": {400, 404},
    "adminCreateUser": {400},
    "adminChangeUserGroupQuota": {400, 404},
    "adminChangeUserPassword": {400, 404},
    "adminChangeUserState": {400, 404},
    "createGroup": {400},
    "uploadAttachment": {400},
    "queryAttachments": {400, 404},
    "batchDeleteAttachmentsByFilter": {400, 404},
    "batchDeleteAttachmentsByKeys": {400, 404},
    "batchDownloadAttachmentsByFilter": {400, 404},
    "batchDownloadAttachmentsByKeys": {400, 404},
    "submitTask": {400},
    "cancelTasksByFilter": {400},
    "cancelTasksByUuids": {400},
    "batchDeleteArtifactsByFilter": {400},
    "batchDeleteArtifactsByUuids": {400},
    "batchDownloadArtifactsByFilter": {400},
    "batchDownloadArtifactsByUuids": {400},
    "queryTasks": {400},
    "batchSubmitTasks": {400},
    "uploadTaskArtifact": {400},
    "changePassword": {400, 403},
    "registerWorker": {400},
    "unregisterWorker": {403},
    "reportTask": {400, 404},  # 404: tests/mitosis/test_worker_protocol.py
    "updateUserGroup": {400, 404},
    "updateTask": {400, 404, 409},
    "updateTaskLabels": {400, 404},
    # Drover's own
    "token_create": {400, 401},
    "token_refresh_create": {400, 401},
    # Torc
    "torc_delete_compute_node": {404},
    "torc_delete_file": {404},
    "torc_delete_job": {404},
    "torc_delete_resource_requirements": {404},
    "torc_delete_user_data": {404},
    "torc_delete_workflow": {404},
    "torc_list_compute_nodes": {400, 404},
    "torc_get_compute_node": {404},
    "torc_list_events": {400, 404},
    "torc_get_event": {404},
    "torc_list_files": {400, 404},
    "torc_get_file": {404},
    "torc_list_jobs": {400, 404},
    "torc_get_job": {404},
    "torc_list_resource_requirements": {400, 404},
    "torc_get_resource_requirements": {404},
    "torc_list_results": {400, 404},
    "torc_get_result": {404},
    "torc_list_user_data": {400, 404},
    "torc_get_user_data": {404},
    "torc_get_workflow": {404},
    "torc_is_workflow_complete": {404},
    "torc_is_workflow_uninitialized": {404},
    "torc_list_job_ids": {404},
    "torc_list_missing_user_data": {404},
    "torc_list_required_existing_files": {404},
    "torc_get_workflow_status": {404},
    "torc_create_jobs": {400},
    "torc_create_compute_node": {400, 404},
    "torc_create_event": {400, 404},
    "torc_create_file": {400, 404},
    "torc_create_job": {400},
    "torc_complete_job": {400, 404},
    "torc_manage_status_change_seed": {400, 404},
    "torc_retry_job": {404, 422},
    "torc_create_resource_requirements": {400, 404},
    "torc_create_result": {400},
    "torc_create_user_data": {400, 404},
    "torc_create_workflow_from_spec": {400},
    "torc_create_workflow": {400},
    "torc_batch_complete_jobs": {400, 404},
    "torc_claim_jobs_based_on_resources": {400, 404},
    "torc_claim_next_jobs": {400, 404},
    "torc_initialize_jobs": {400, 404},
    "torc_process_changed_job_inputs": {400, 404},
    "torc_reset_job_status": {400, 404},
    "torc_reset_workflow_status": {404},
    "torc_update_compute_node": {400, 404},
    "torc_update_file": {400, 404},
    "torc_update_job": {400, 404},
    "torc_manage_status_change": {400, 404},
    "torc_start_job": {400, 404, 409, 422},
    "torc_update_resource_requirements": {400, 404},
    "torc_update_user_data": {400, 404},
    "torc_update_workflow": {400, 404},
    "torc_cancel_workflow": {404},
    "torc_update_workflow_status": {400, 404},
}

# SECTION bugs of the server (operationId or "*" for all -> {failure kind: why}); kinds are
# harness.failure_kinds.
# A 5xx is never tolerated.

TRIMMED = ("BUG: a text value over maxLength only by surrounding whitespace is accepted (DRF trims before "
           "checking; stored trimmed, within the limit); strict fields will refuse it")
COERCED = "BUG: a JSON value of the wrong type is coerced (DRF's lenient fields), not refused (test_regressions)"
EMPTY_QUERY = "BUG: an empty query value of an integer/boolean parameter is taken as absent (test_regressions)"
PER_ITEM = "BUG: schema-violating items of a batch get 200 with a per-item Err, not a 4xx (test_regressions)"
IGNORED_PARAM = ("BUG: strict_scheduler_match is documented as a boolean but never read, so any value passes "
                 "(test_regressions)")
SHARED_ROUTE = ("By design, not a bug: Mitosis routes the attachment whose key is 'query'/'list' here too, "
                "so Allow names GET/DELETE; tolerated")

BUGS: dict[str, dict[str, str]] = {
    # DRF's fields coerce 0 to "0", 0/1 to booleans, false to 0.0 or the nil uuid: every body of
    # every dialect. One fix (strict fields in apps/core) for all, so one entry for all.
    "*": {"AcceptedNegativeData:type": COERCED,
          # DRF's CharField strips surrounding whitespace before checking max_length: a string over
          # maxLength only by its padding is accepted and stored trimmed (over it otherwise: 400).
          "AcceptedNegativeData:trimmed-length": TRIMMED},
    # Mitosis
    "queryAttachments": {"AllowHeaderMismatch": SHARED_ROUTE},
    "batchDownloadAttachmentsByKeys": {"AllowHeaderMismatch": SHARED_ROUTE},
    "batchSubmitTasks": {"AcceptedNegativeData": PER_ITEM},
    # Torc
    "torc_claim_next_jobs": {"AcceptedNegativeData:query-type": EMPTY_QUERY},
    "torc_process_changed_job_inputs": {"AcceptedNegativeData:query-type": EMPTY_QUERY},
    "torc_reset_job_status": {"AcceptedNegativeData:query-type": EMPTY_QUERY},
    "torc_create_user_data": {"AcceptedNegativeData:query-type": EMPTY_QUERY},
    "torc_claim_jobs_based_on_resources": {"AcceptedNegativeData:query-type": IGNORED_PARAM},
}
