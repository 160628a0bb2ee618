/**
 * The first screen of `npm start` (`minutely demo`): what runs where — the status page and
 * /metrics when the sidecar serves them, the ingest endpoints, the sink and the namespace.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, type Aggregator } from '../../src/index.js'
import { startHttpListener, type HttpListener } from '../../src/listeners/http.js'
import { statusRoutes } from '../../src/status/routes.js'
import { firstRunScreen } from '../../src/cli/demo.js'
import type { Sidecar } from '../../src/cli/sidecar.js'

const open: Array<{ agg: Aggregator, http: HttpListener }> = []
afterEach(async () => { for (const { agg, http } of open.splice(0)) { await http.close(); await agg.close() } })

async function fakeSidecar (withStatus: boolean, extra: Record<string, unknown> = {}): Promise<{ sidecar: Sidecar, base: string }> {
  const agg = createAggregator({ namespace: 'Demo', sink: inMemorySink() })
  const http = await startHttpListener({ aggregator: agg, port: 0, host: '127.0.0.1', routes: withStatus ? statusRoutes({ aggregator: agg }) : undefined })
  open.push({ agg, http })
  const settings = { sink: 'memory', namespace: 'Demo', statsdPort: 8125, emfPort: 25888 }
  const sidecar = { aggregator: agg, http, settings, close: async () => await agg.close(), ...extra } as unknown as Sidecar
  return { sidecar, base: `http://127.0.0.1:${http.port}` }
}

describe('the first-run screen', () => {
  it('says where the status page, /metrics and the listeners are', async () => {
    const { sidecar, base } = await fakeSidecar(true, { statsd: { port: 8125 }, emf: { port: 25888 } })
    const text = await firstRunScreen(sidecar, sidecar.settings, base)
    const lines = text.split('\n')
    expect(lines[0]).toMatch(/^── minutely demo ─+$/)
    expect(lines.find(l => l.trimStart().startsWith('status page'))).toContain(`${base}/ `)
    expect(lines.find(l => l.trimStart().startsWith('self-metrics'))).toContain(`${base}/metrics`)
    expect(lines.find(l => l.trimStart().startsWith('HTTP ingest'))).toContain(`${base}/v1/samples`)
    expect(lines.find(l => l.trimStart().startsWith('StatsD'))).toContain('udp://127.0.0.1:8125')
    expect(lines.find(l => l.trimStart().startsWith('EMF agent'))).toContain('tcp+udp://127.0.0.1:25888')
    expect(lines.find(l => l.trimStart().startsWith('sink'))).toMatch(/memory\s+in memory: no AWS account needed/)
    expect(lines.find(l => l.trimStart().startsWith('namespace'))).toMatch(/namespace\s+Demo$/)
    expect(text).toMatch(/Ctrl-C seals and publishes everything/)
  })

  it('says (off) when the sidecar does not serve the status routes, and omits listeners it did not start', async () => {
    const { sidecar, base } = await fakeSidecar(false)
    const text = await firstRunScreen(sidecar, sidecar.settings, base)
    expect(text).toMatch(/status page\s+\(off\)\n/)
    expect(text).toMatch(/self-metrics\s+\(off\)\n/)
    expect(text).not.toMatch(/StatsD|EMF agent/)
  })
})
