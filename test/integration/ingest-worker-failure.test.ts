/**
 * A worker thread dies mid-batch: the pool replaces it and keeps ingesting, and what that
 * worker held — exactly the batch it was parsing, nothing else, since workers keep no state
 * between batches — is counted under `worker_failed`, per datagram. Prints its figure.
 */
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { createAggregator, inMemorySink } from '../../src/index.js'
import { IngestPool } from '../../src/ingest/pool.js'

it('a dead worker is replaced; its one batch is counted as lost, per datagram; later batches are published', async () => {
  const sink = inMemorySink()
  const agg = createAggregator({ namespace: 'W', sink, onWarning: () => {} })
  const pool = new IngestPool({ aggregator: agg, threads: 1, batchBytes: 1024, workerFilename: fileURLToPath(new URL('../fixtures/workers/crashing-worker.mjs', import.meta.url)) })
  try {
    for (let i = 0; i < 10; i++) pool.push('statsd', Buffer.from('Before:1|c'))
    await pool.drain()
    for (let i = 0; i < 3; i++) pool.push('statsd', Buffer.from(i === 1 ? 'CRASH:1|c' : 'Doomed:1|c'))
    await pool.drain()
    for (let i = 0; i < 10; i++) pool.push('statsd', Buffer.from('After:1|c'))
    await pool.drain()
  } finally {
    await pool.close()
  }
  await agg.close()
  const count = (m: string): number => sink.datums().filter(d => d.MetricName === m).reduce((a, d) => a + d.StatisticValues.SampleCount, 0)
  console.log(`worker failure: batches failed ${pool.stats.batchesFailed}, datagrams lost ${pool.stats.datagramsLostToWorkerFailure}`)
  expect(count('Before')).toBe(10)
  expect(count('After')).toBe(10)
  expect(count('Doomed')).toBe(0)
  expect(pool.stats.batchesFailed).toBe(1)
  expect(pool.stats.datagramsLostToWorkerFailure).toBe(3)
  expect(agg.stats().rejectedByReason.worker_failed).toBe(3)
})
