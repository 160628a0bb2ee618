/**
 * The CloudWatch Logs PutLogEvents contract, as the API reference states it (checked against
 * the model documentation of `@aws-sdk/client-cloudwatch-logs` 3.1164):
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
 *
 * - a batch holds at most 10,000 events;
 * - a batch is at most 1,048,576 bytes, counted as the sum of every message in UTF-8 plus
 *   26 bytes for each event;
 * - the events of a batch are in chronological order (by timestamp), else the call fails;
 * - the (valid) events of a batch span at most 24 hours, else the call fails;
 * - events more than 14 days old or more than 2 hours in the future are rejected (the rest of
 *   the batch is accepted and `rejectedLogEventsInfo` says which were not);
 * - one event is at most 1 MB today; it was 256 KB until 2025, and 256 KB is what older
 *   endpoints (GovCloud, China, local emulators, the CloudWatch agent's own limit) still
 *   enforce. We use the safe value: a message of at most 256 KB − 26 bytes, so an event with
 *   its overhead fits in 256 KB everywhere;
 * - sequence tokens are ignored (PutLogEvents never answers InvalidSequenceToken or
 *   DataAlreadyAccepted any more): we send none, and several streams may be written in
 *   parallel.
 * - a message must not be empty (InputLogEvent.message has a minimum length of 1).
 */

/** Most events in one PutLogEvents call. */
export const kMaxEventsPerBatch = 10_000
/** Most bytes in one PutLogEvents call, counted as UTF-8 messages + {@link kEventOverheadBytes} each. */
export const kMaxBatchBytes = 1_048_576
/** What each event adds to the batch size, on top of its message. */
export const kEventOverheadBytes = 26
/** The safe size limit of one event, overhead included (the pre-2025 limit, still the common one). */
export const kMaxEventBytes = 256 * 1024
/** The longest message we send in one event, in UTF-8 bytes: a longer line is split over several events. */
export const kMaxEventMessageBytes = kMaxEventBytes - kEventOverheadBytes
/** Longest time span of the events of one batch. */
export const kMaxBatchSpanMs = 24 * 3600_000
/** Events older than this are rejected by the service. */
export const kMaxEventAgeMs = 14 * 24 * 3600_000
/** Events further in the future than this are rejected by the service. */
export const kMaxEventFutureMs = 2 * 3600_000
/** Log group names: 1–512 of `[.-_/#A-Za-z0-9]`. */
export const kLogGroupNamePattern = /^[.\-_/#A-Za-z0-9]{1,512}$/
/** Longest log stream name (no `:` or `*` allowed). */
export const kMaxLogStreamNameLength = 512
