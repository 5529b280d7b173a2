"""Names shared by every layer: API coordinates, labels, condition types and reasons."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALLOWED_EVALJOBS_ANNOTATION",
    "BENCHMARK_PLURAL",
    "CUSTOM_FIELD_BENCHMARK_UID",
    "CUSTOM_FIELD_EVALJOB_UID",
    "CUSTOM_FIELD_K8S_NAME",
    "CUSTOM_FIELD_K8S_NAMESPACE",
    "CUSTOM_FIELD_MANAGED_BY",
    "EVALJOB_PLURAL",
    "FINALIZER",
    "GROUP",
    "LABEL_BENCHMARK",
    "LABEL_EVALJOB",
    "LABEL_MANAGED_BY",
    "LABEL_RESULTS_PART",
    "MANAGED_BY",
    "MARKER_ANNOTATION",
    "VERSION",
    "Cond",
    "Reason",
]

GROUP: Final = "evaluator.nemo.dev"
VERSION: Final = "v1alpha1"
BENCHMARK_PLURAL: Final = "benchmarks"
EVALJOB_PLURAL: Final = "evaljobs"
FINALIZER: Final = "evaluator.nemo.dev/finalizer"
MARKER_ANNOTATION: Final = "evaluator.nemo.dev/submission"
"""Set before a job POST (with our finalizer, under a resourceVersion precondition)."""
MANAGED_BY: Final = "nemo-evaluator-operator"
ALLOWED_EVALJOBS_ANNOTATION: Final = "evaluator.nemo.dev/allowed-evaljobs"
"""On a Secret: the EvalJobs of its namespace that may use it (names or globs, comma-separated)."""

LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_EVALJOB: Final = "evaluator.nemo.dev/evaljob"
LABEL_BENCHMARK: Final = "evaluator.nemo.dev/benchmark"
LABEL_RESULTS_PART: Final = "evaluator.nemo.dev/results-part"

# Keys in NeMo's `custom_fields`; plain identifiers so they survive `filter[custom_fields][key]`.
CUSTOM_FIELD_EVALJOB_UID: Final = "evaljob_uid"
CUSTOM_FIELD_BENCHMARK_UID: Final = "benchmark_uid"
CUSTOM_FIELD_K8S_NAMESPACE: Final = "k8s_namespace"
CUSTOM_FIELD_K8S_NAME: Final = "k8s_name"
CUSTOM_FIELD_MANAGED_BY: Final = "managed_by"


class Cond:
    """Condition types: kstatus reads Ready, Reconciling and Stalled; Succeeded marks the end."""

    READY: Final = "Ready"
    RECONCILING: Final = "Reconciling"
    STALLED: Final = "Stalled"
    SUCCEEDED: Final = "Succeeded"
    PASSED: Final = "Passed"


class Reason:
    """CamelCase condition and event reasons."""

    CONFIG_SYNCED: Final = "ConfigSynced"
    CREATING: Final = "Creating"
    DELETING: Final = "Deleting"
    INVALID_CONFIG: Final = "InvalidConfig"
    INVALID_SPEC: Final = "InvalidSpec"
    EVALUATOR_UNAVAILABLE: Final = "EvaluatorUnavailable"
    EVALUATOR_ERROR: Final = "EvaluatorError"
    BENCHMARK_NOT_FOUND: Final = "BenchmarkNotFound"
    BENCHMARK_NOT_READY: Final = "BenchmarkNotReady"
    SECRET_NOT_FOUND: Final = "SecretNotFound"
    SECRET_KEY_NOT_FOUND: Final = "SecretKeyNotFound"
    SECRET_NOT_ALLOWED: Final = "SecretNotAllowed"
    QUOTA_EXCEEDED: Final = "QuotaExceeded"
    SUBMITTING: Final = "Submitting"
    SUBMITTED: Final = "Submitted"
    SUBMISSION_REJECTED: Final = "SubmissionRejected"
    SUBMISSION_REFUSED: Final = "SubmissionRefused"
    ADOPTED: Final = "Adopted"
    PENDING: Final = "Pending"
    RUNNING: Final = "Running"
    CANCELLING: Final = "Cancelling"
    CANCELLED: Final = "Cancelled"
    SUCCEEDED: Final = "Succeeded"
    FAILED: Final = "Failed"
    JOB_FAILED: Final = "JobFailed"
    JOB_NOT_FOUND: Final = "JobNotFound"
    UNKNOWN_JOB_STATUS: Final = "UnknownJobStatus"
    DEADLINE_EXCEEDED: Final = "DeadlineExceeded"
    RESULTS_WRITTEN: Final = "ResultsWritten"
    WRITING_RESULTS: Final = "WritingResults"
    RESULTS_UNAVAILABLE: Final = "ResultsUnavailable"
    GATE_PASSED: Final = "CriteriaPassed"
    GATE_FAILED: Final = "CriteriaFailed"
    METRIC_NOT_FOUND: Final = "MetricNotFound"
    BASELINE_NOT_FOUND: Final = "BaselineNotFound"
    BASELINE_NOT_SUCCEEDED: Final = "BaselineNotSucceeded"
    BASELINE_NOT_COMPARABLE: Final = "BaselineNotComparable"
    NO_CRITERIA: Final = "NoCriteria"
    CLEANUP_ABANDONED: Final = "CleanupAbandoned"
    CLEANUP_PENDING: Final = "CleanupPending"
    ORPHANED: Final = "Orphaned"
    KUBERNETES_ERROR: Final = "KubernetesAPIError"
    REMOVING_DUPLICATES: Final = "RemovingDuplicates"
    EVALUATOR_REJECTED: Final = "EvaluatorRejected"
    UNSUPPORTED_API: Final = "UnsupportedEvaluatorAPI"
    WRONG_API: Final = "WrongEvaluatorAPI"
    FOREIGN_OBJECT: Final = "ForeignObject"
    EVALUATOR_SECRET_MISSING: Final = "EvaluatorSecretMissing"
    EVALUATOR_AUTH_FAILED: Final = "EvaluatorAuthFailed"
    STATUS_REJECTED: Final = "StatusRejected"
    RESULTS_CONFLICT: Final = "ResultsConfigMapTaken"
    JOB_MISSING: Final = "JobMissing"
    DUPLICATE_JOBS: Final = "DuplicateJobs"
