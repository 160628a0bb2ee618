/**
 * Which SDK failures only a person can fix (kept, retried at the backoff ceiling, reported
 * as blocked), which are the request's own fault (not retried), and which are transient —
 * for both sinks, from one rule (src/aws-client.ts). The error shapes are those the real
 * SDK produces (see test/helpers/strict-endpoint.ts and the integration tests).
 */
import { describe, expect, it } from 'vitest'
import { isRetryable } from '../../../src/sinks/cloudwatch.js'
import { classifyLogsError } from '../../../src/logs/sinks/cloudwatch-logs.js'
import { isOutcomeUnknown } from '../../../src/sinks/aws-client.js'

const http = (name: string, status: number): Error => Object.assign(new Error(`${name} from the service`), { name, $metadata: { httpStatusCode: status } })
const local = (name: string, message: string, code?: string): Error => Object.assign(new Error(message), { name, ...(code !== undefined ? { code } : {}) })

const kCases: Array<[string, unknown, { retryable: boolean, throttled: boolean, permanent: boolean }, string]> = [
  ['AccessDenied (403)', http('AccessDenied', 403), { retryable: true, throttled: false, permanent: true }, 'blocked'],
  ['AccessDeniedException (400)', http('AccessDeniedException', 400), { retryable: true, throttled: false, permanent: true }, 'blocked'],
  ['InvalidClientTokenId (403)', http('InvalidClientTokenId', 403), { retryable: true, throttled: false, permanent: true }, 'blocked'],
  ['UnrecognizedClientException (400)', http('UnrecognizedClientException', 400), { retryable: true, throttled: false, permanent: true }, 'blocked'],
  ['ExpiredToken (400)', http('ExpiredToken', 400), { retryable: true, throttled: false, permanent: true }, 'blocked'],
  ['any 401', http('Whatever', 401), { retryable: true, throttled: false, permanent: true }, 'blocked'],
  ['no region', local('Error', 'Region is missing'), { retryable: true, throttled: false, permanent: true }, 'blocked'],
  ['a region that is no hostname', local('Error', 'Region not accepted: region="us east 1" is not a valid hostname component.'), { retryable: true, throttled: false, permanent: true }, 'blocked'],
  ['no credentials in the chain', local('CredentialsProviderError', 'Could not load credentials from any providers'), { retryable: true, throttled: false, permanent: true }, 'blocked'],
  ['an endpoint host that does not exist', local('Error', 'getaddrinfo ENOTFOUND monitoring.xx-test-1.amazonaws.com', 'ENOTFOUND'), { retryable: true, throttled: false, permanent: true }, 'blocked'],
  ['Throttling (400)', http('Throttling', 400), { retryable: true, throttled: true, permanent: false }, 'throttled'],
  ['a 500', http('InternalServiceFault', 500), { retryable: true, throttled: false, permanent: false }, 'retryable'],
  ['refused (no status)', local('Error', 'connect ECONNREFUSED 127.0.0.1:9', 'ECONNREFUSED'), { retryable: true, throttled: false, permanent: false }, 'retryable'],
  ['a DNS blip (EAI_AGAIN)', local('Error', 'getaddrinfo EAI_AGAIN monitoring.us-east-1.amazonaws.com', 'EAI_AGAIN'), { retryable: true, throttled: false, permanent: false }, 'retryable'],
  ['a bad request (400)', http('InvalidParameterValueException', 400), { retryable: false, throttled: false, permanent: false }, 'fatal'],
]

describe('failure kinds', () => {
  it.each(kCases)('%s', (_what, err, metrics, logs) => {
    expect(isRetryable(err)).toEqual(metrics)
    expect(classifyLogsError(err)).toBe(logs)
  })
})

// The shapes @smithy/node-http-handler gives a request that got no answer: it renames ECONNRESET,
// EPIPE and ETIMEDOUT errors to TimeoutError and keeps their code.
const kOutcomes: Array<[string, unknown, boolean]> = [
  ['the request timeout', local('TimeoutError', '@smithy/node-http-handler - [ERROR] a request has exceeded the configured 10000 ms requestTimeout.', 'ETIMEDOUT'), true],
  ['a reset once sent', local('TimeoutError', 'read ECONNRESET', 'ECONNRESET'), true],
  ['a socket hang up', local('TimeoutError', 'socket hang up', 'ECONNRESET'), true],
  ['a broken pipe while sending', local('TimeoutError', 'write EPIPE', 'EPIPE'), true],
  ['the socket idle timeout', local('TimeoutError', '@smithy/node-http-handler - the request socket timed out after 10000 ms of inactivity (configured by client requestHandler).'), true],
  ['the connect timeout', local('TimeoutError', '@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 5000 ms.'), false],
  ['refused', local('Error', 'connect ECONNREFUSED 127.0.0.1:9', 'ECONNREFUSED'), false],
  ['a DNS blip', local('Error', 'getaddrinfo EAI_AGAIN monitoring.us-east-1.amazonaws.com', 'EAI_AGAIN'), false],
  ['no route', local('Error', 'connect EHOSTUNREACH 10.0.0.1:443', 'EHOSTUNREACH'), false],
  ['a 500 (answered)', http('InternalServiceFault', 500), false],
  ['a 503 (answered)', http('ServiceUnavailable', 503), false],
  ['throttled (answered)', http('Throttling', 400), false],
  ['no region (never sent)', local('Error', 'Region is missing'), false],
  ['no credentials (never sent)', local('CredentialsProviderError', 'Could not load credentials from any providers'), false],
  ['not an error', 'boom', false],
]

describe('an unknown outcome: sent, and never answered', () => {
  it.each(kOutcomes)('%s', (_what, err, unknown) => {
    expect(isOutcomeUnknown(err)).toBe(unknown)
  })
})
