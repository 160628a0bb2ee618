/**
 * A loopback HTTP server that answers the AWS JSON protocols of CloudWatch
 * (`x-amz-target: GraniteServiceVersion20100801.*`, JSON 1.0) and CloudWatch Logs
 * (`Logs_20140328.*`, JSON 1.1) with success, and records how each request arrived: which
 * operation, whether the body was gzipped, and the SigV4 credential scope (access key id,
 * region, service). For tests of what reaches the wire when the SDK's own settings chain
 * (environment, profiles) decides, not what the service does with it.
 *
 * `failWith(status)` makes it answer every request with that HTTP status instead
 * (`InternalFailure`), to count attempts.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedAwsRequest {
  /** The operation, e.g. `PutMetricData`, `CreateLogStream`. */
  operation: string
  /** `monitoring` or `logs`, from the credential scope. */
  service: string | undefined
  accessKeyId: string | undefined
  region: string | undefined
  gzipped: boolean
  /** Body bytes as received. */
  bytes: number
  /** `amz-sdk-request: attempt=N; max=M` → M: the attempts the SDK allows per call. */
  maxAttempts: number | undefined
}

export interface RecordingAwsEndpoint {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly requests: readonly RecordedAwsRequest[]
  /** Answer every request with this HTTP status (undefined: success). */
  failWith (status: number | undefined): void
  close (): Promise<void>
}

const kScope = /Credential=([^/\s]+)\/\d{8}\/([^/\s]+)\/([^/\s]+)\/aws4_request/

/** Starts one on 127.0.0.1 (an ephemeral port). */
export async function startRecordingAwsEndpoint (): Promise<RecordingAwsEndpoint> {
  const requests: RecordedAwsRequest[] = []
  let failure: number | undefined
  const server = http.createServer((req, res) => {
    let bytes = 0
    req.on('data', (c: Buffer) => { bytes += c.length })
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '')
      const scope = kScope.exec(String(req.headers.authorization ?? ''))
      const attempts = /max=(\d+)/.exec(String(req.headers['amz-sdk-request'] ?? ''))
      requests.push({
        operation: target.slice(target.indexOf('.') + 1),
        service: scope?.[3],
        accessKeyId: scope?.[1],
        region: scope?.[2],
        gzipped: String(req.headers['content-encoding'] ?? '') === 'gzip',
        bytes,
        maxAttempts: attempts !== null ? Number(attempts[1]) : undefined,
      })
      const type = target.startsWith('Logs_') ? 'application/x-amz-json-1.1' : 'application/x-amz-json-1.0'
      if (failure !== undefined) {
        res.writeHead(failure, { 'content-type': type, 'x-amzn-query-error': 'InternalFailure;Receiver' })
        res.end(JSON.stringify({ __type: 'InternalFailure', message: 'failing on purpose' }))
        return
      }
      res.writeHead(200, { 'content-type': type })
      res.end('{}')
    })
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failWith (status) { failure = status },
    async close () {
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    },
  }
}
