// A minimal HTTP load balancer on loopback, standing in for the one a deployment puts in
// front of several Alias nodes: it listens on the issuer's address and forwards each
// request, unchanged (Host included), to the node that `pick` names. No sticky
// sessions: the point is that any node serves any step of any flow (DESIGN, "Data and
// scale"). Used by test/e2e/two_nodes.test.ts (the test picks the node of each step)
// and by bench/soak.mjs (round robin).
import http from 'node:http';

/**
 * @param {{ nodes: { name: string, port: number }[], pick?: (req: http.IncomingMessage, n: number) => number, port?: number }} opts
 *   `pick` returns the index of the node for the n-th request (default: round robin).
 */
export async function startBalancer({ nodes, pick, port = 0 }) {
  // One keep-alive pool per node, as a real balancer keeps upstream connections.
  const agents = nodes.map(() => new http.Agent({ keepAlive: true, maxSockets: 256 }));
  const served = nodes.map(() => 0);
  const failures = [];
  let n = 0;
  const choose = pick ?? ((_req, i) => i % nodes.length);

  const server = http.createServer((req, res) => {
    const i = choose(req, n++);
    const node = nodes[i];
    if (!node) {
      res.writeHead(500).end(`balancer: no node ${i}`);
      return;
    }
    served[i]++;
    const upstream = http.request({
      host: '127.0.0.1', port: node.port, method: req.method, path: req.url, headers: req.headers, agent: agents[i],
    }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      // A node that is down or resets the connection is a failure the caller must see.
      failures.push(`${node.name} ${req.method} ${req.url?.split('?')[0]}: ${err.message}`);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`balancer: ${node.name} failed: ${err.message}`);
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(undefined));
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    port: actualPort,
    url: `http://127.0.0.1:${actualPort}`,
    /** Requests forwarded to each node so far, in the order of `nodes`. */
    served: () => [...served],
    /** Transport failures towards the nodes (each also answered 502). */
    failures: () => [...failures],
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
      for (const a of agents) a.destroy();
    },
  };
}
