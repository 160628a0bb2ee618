/**
 * Slow clients cannot hold a listener, over real sockets (net.connect) on loopback:
 *  - EMF TCP: a client trickling bytes without a newline is closed at the idle timeout (the
 *    bytes do not keep it open); 256 of them (the cap) do not lock out a working client, whose
 *    connection closes the one idle the longest;
 *  - HTTP: a header slowloris is closed with 408 at the headers timeout, a body slowloris at
 *    the request timeout, by the listener's own timer (Node checks its own every 30 s); the
 *    connection cap full of slow ones still lets a normal request through.
 * Short settings keep it fast; each test prints its figure. Bounds on times are loose (a tick
 * of the listener plus a loaded machine's slack), and far below Node's 30 s check.
 */
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, type Aggregator } from '../../src/index.js'
import { IngestPool } from '../../src/ingest/pool.js'
import { startEmfListener, type EmfListener } from '../../src/listeners/emf-agent.js'
import { startHttpListener, type HttpListener } from '../../src/listeners/http.js'

const open: Array<() => Promise<unknown> | void> = []
afterEach(async () => { for (const close of open.splice(0).reverse()) await close() })

interface Client { socket: Socket, connectedAt: number, closedAt: Promise<number>, received: () => string, closed: () => boolean }

function client (port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    let data = ''
    let isClosed = false
    const socket = connect(port, '127.0.0.1')
    socket.on('data', (d: Buffer) => { data += d.toString() })
    socket.on('error', () => {})
    const closedAt = new Promise<number>(r => { socket.once('close', () => { isClosed = true; r(performance.now()) }) })
    socket.once('connect', () => { resolve({ socket, connectedAt: performance.now(), closedAt, received: () => data, closed: () => isClosed }) })
    socket.once('error', reject)
  })
}

/** Writes `bytes` one at a time every `everyMs` until the socket closes. */
function trickle (c: Client, bytes: string, everyMs: number): void {
  let i = 0
  const t = setInterval(() => {
    if (c.closed() || c.socket.destroyed) { clearInterval(t); return }
    c.socket.write(bytes[i++ % bytes.length])
  }, everyMs)
  open.push(() => { clearInterval(t) })
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => { setTimeout(resolve, ms) })

async function until (cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond() && Date.now() < end) await sleep(10)
}

function doc (value: number): string {
  return JSON.stringify({ _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'Raw', Dimensions: [['Svc']], Metrics: [{ Name: 'Lat', Unit: 'Milliseconds' }] }] }, Svc: 'a', Lat: value }) + '\n'
}

describe('EMF TCP', () => {
  async function emfListener (o: { idleTimeoutMs?: number, maxConnections?: number } = {}): Promise<{ aggregator: Aggregator, emf: EmfListener }> {
    const aggregator = createAggregator({ namespace: 'Slow', sink: inMemorySink(), onWarning: () => {} })
    const pool = new IngestPool({ aggregator, threads: 1 })
    const emf = await startEmfListener({ aggregator, pool, port: 0, receiveThread: false, ...o })
    open.push(() => aggregator.close(), () => pool.close(), () => emf.close(100))
    return { aggregator, emf }
  }

  it('a client trickling bytes without a newline is closed at the idle timeout; one sending lines stays', async () => {
    const idle = 1000
    const { aggregator, emf } = await emfListener({ idleTimeoutMs: idle })
    const slow = await client(emf.port)
    trickle(slow, '{"_aws":', 200)
    const busy = await client(emf.port)
    const lines = setInterval(() => { busy.socket.write(doc(1)) }, 300)
    open.push(() => { clearInterval(lines) })
    const closedAfter = (await slow.closedAt) - slow.connectedAt
    console.log(`emf: a byte every 200 ms, no newline, idle timeout ${idle} ms: closed after ${Math.round(closedAfter)} ms`)
    expect(closedAfter).toBeGreaterThanOrEqual(idle - 50)
    expect(closedAfter).toBeLessThan(idle + 2500)
    await sleep(idle)   // the line sender is past two idle timeouts now
    expect(busy.closed()).toBe(false)
    clearInterval(lines)
    await until(() => aggregator.stats().samplesAccepted >= 5)
    expect(aggregator.stats().samplesAccepted).toBeGreaterThanOrEqual(5)
    expect(emf.stats.connectionsTimedOut).toBe(1)
    busy.socket.end()
  })

  it('256 slow clients fill the cap; a working client still gets through, closing the one idle the longest', async () => {
    const { aggregator, emf } = await emfListener()   // the defaults: 256 connections, 60 s idle
    const slow: Client[] = []
    for (let i = 0; i < 256; i++) { const c = await client(emf.port); c.socket.write('{'); slow.push(c) }
    await until(() => emf.stats.open === 256)
    expect(emf.stats.open).toBe(256)
    await sleep(1100)   // idle: nothing whole for a second
    const good = await client(emf.port)
    good.socket.write(doc(42))
    await until(() => aggregator.stats().samplesAccepted >= 1)
    const first = await Promise.race([slow[0].closedAt.then(() => true), sleep(2000).then(() => false)])
    console.log(`emf: cap of 256 full of slow clients: a working client's document accepted (${aggregator.stats().samplesAccepted}), ${emf.stats.connectionsEvicted} idle connection closed for it, ${emf.stats.connectionsRefused} refused`)
    expect(aggregator.stats().samplesAccepted).toBe(1)
    expect(emf.stats.connectionsEvicted).toBe(1)
    expect(emf.stats.connectionsRefused).toBe(0)
    expect(first).toBe(true)   // the oldest went
    expect(slow.slice(1).every(c => !c.closed())).toBe(true)
    expect(good.closed()).toBe(false)
    for (const c of [...slow, good]) c.socket.destroy()
  })
})

describe('HTTP', () => {
  async function httpListener (o: { headersTimeoutMs?: number, requestTimeoutMs?: number, maxConnections?: number } = {}): Promise<{ aggregator: Aggregator, http: HttpListener }> {
    const aggregator = createAggregator({ namespace: 'Slow', sink: inMemorySink(), onWarning: () => {} })
    const http = await startHttpListener({ aggregator, port: 0, host: '127.0.0.1', ...o })
    open.push(() => aggregator.close(), () => http.close())
    return { aggregator, http }
  }

  const kBody = JSON.stringify({ samples: [{ metric: 'Lat', value: 1 }] })

  it('a header slowloris gets 408 and is closed at the headers timeout', async () => {
    const headersMs = 1000
    const { http } = await httpListener({ headersTimeoutMs: headersMs, requestTimeoutMs: 3000 })
    const c = await client(http.port)
    c.socket.write('POST /v1/samples HTTP/1.1\r\nhost: x\r\n')
    trickle(c, 'x-slow: yes\r\n', 100)
    const closedAfter = (await c.closedAt) - c.connectedAt
    console.log(`http: header slowloris, headers timeout ${headersMs} ms: ${c.received().split('\r\n')[0]} and closed after ${Math.round(closedAfter)} ms`)
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /)
    expect(closedAfter).toBeGreaterThanOrEqual(headersMs - 50)
    expect(closedAfter).toBeLessThan(headersMs + 2500)
    expect(http.stats.connectionsTimedOut).toBe(1)
  })

  it('a body slowloris gets 408 and is closed at the request timeout; nothing it sent is recorded', async () => {
    const requestMs = 2000
    const { aggregator, http } = await httpListener({ headersTimeoutMs: 1000, requestTimeoutMs: requestMs })
    const c = await client(http.port)
    c.socket.write(`POST /v1/samples HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${kBody.length + 1000}\r\n\r\n`)
    trickle(c, kBody, 100)
    const closedAfter = (await c.closedAt) - c.connectedAt
    console.log(`http: body slowloris, request timeout ${requestMs} ms: ${c.received().split('\r\n')[0]} and closed after ${Math.round(closedAfter)} ms`)
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /)
    expect(closedAfter).toBeGreaterThanOrEqual(requestMs - 50)
    expect(closedAfter).toBeLessThan(requestMs + 2500)
    expect(aggregator.stats().samplesAccepted).toBe(0)
  })

  it('a slow client within its deadlines is served', async () => {
    const { aggregator, http } = await httpListener({ headersTimeoutMs: 1000, requestTimeoutMs: 2000 })
    const c = await client(http.port)
    const request = `POST /v1/samples HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${kBody.length}\r\n\r\n${kBody}`
    const third = Math.ceil(request.length / 3)
    for (let i = 0; i < 3; i++) { c.socket.write(request.slice(i * third, (i + 1) * third)); await sleep(250) }
    await c.closedAt
    expect(c.received()).toMatch(/^HTTP\/1\.1 200 /)
    expect(aggregator.stats().samplesAccepted).toBe(1)
  })

  it('256 slow clients fill the cap; a normal request still gets through, closing the one idle the longest', async () => {
    const { aggregator, http } = await httpListener()   // the defaults: 256 connections, 10 s / 30 s
    const slow: Client[] = []
    for (let i = 0; i < 256; i++) { const c = await client(http.port); c.socket.write('POST /v1/samples HTTP/1.1\r\n'); slow.push(c) }
    await until(() => http.stats.open === 256)
    expect(http.stats.open).toBe(256)
    await sleep(1100)
    const r = await fetch(`http://127.0.0.1:${http.port}/v1/samples`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: kBody })
    const first = await Promise.race([slow[0].closedAt.then(() => true), sleep(2000).then(() => false)])
    console.log(`http: cap of 256 full of header slowloris: a normal request answered ${r.status}, ${http.stats.connectionsEvicted} idle connection closed for it, ${http.stats.connectionsRefused} refused`)
    expect(r.status).toBe(200)
    expect(((await r.json()) as { accepted: number }).accepted).toBe(1)
    expect(aggregator.stats().samplesAccepted).toBe(1)
    expect(http.stats.connectionsEvicted).toBe(1)
    expect(http.stats.connectionsRefused).toBe(0)
    expect(first).toBe(true)
    expect(slow.slice(1).every(c => !c.closed())).toBe(true)
    for (const c of slow) c.socket.destroy()
  })
})
