// A TCP proxy between Alias and a real database, so tests can take the database away
// and give it back without touching the server that other tests share: `cut()` ends
// every proxied connection and stops listening (connections are refused, as when
// PostgreSQL is down), `blackhole()` accepts connections and never answers (a network
// that drops packets), `freeze()` silences the open connections only, `restore()`
// forwards again on the same port. With `recording` on, `traffic` keeps what passes, in
// order of arrival.
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'forward' | 'cut' | 'blackhole';

export interface TcpProxy {
  port: number;
  mode: ProxyMode;
  /** Connections accepted since the start (forwarded or held). */
  accepted: number;
  /** While true, every chunk forwarded is kept in `traffic`. */
  recording: boolean;
  /** The chunks forwarded while recording, in the order the proxy received them: `up` is toward the database. */
  traffic: { up: boolean; text: string }[];
  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string;
  cut(): Promise<void>;
  blackhole(): Promise<void>;
  /** Open connections stop carrying data either way (a silent partition); new ones work. */
  freeze(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    // A peer going away mid-stream is what these tests do on purpose.
    s.on('error', () => s.destroy());
  };

  function onConnection(client: Socket) {
    proxy.accepted++;
    track(client);
    if (proxy.mode === 'blackhole') return; // held open, never answered
    const upstream = connect(target.port, target.host);
    track(upstream);
    const keep = (up: boolean) => (d: Buffer) => { if (proxy.recording) proxy.traffic.push({ up, text: d.toString('latin1') }); };
    client.on('data', keep(true));
    upstream.on('data', keep(false));
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  async function listen() {
    if (server) return;
    const srv = createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => resolve());
    });
    const address = srv.address();
    port = typeof address === 'object' && address ? address.port : port;
    server = srv;
  }

  async function stopListening() {
    const srv = server;
    server = undefined;
    if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
  }

  /** Ends every connection at once (both sides), as a database restart does. */
  function dropAll() {
    for (const s of sockets) s.destroy();
    sockets.clear();
  }

  const proxy: TcpProxy = {
    get port() { return port; },
    mode: 'forward',
    accepted: 0,
    recording: false,
    traffic: [],
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async cut() {
      proxy.mode = 'cut';
      const closing = stopListening();
      dropAll();
      await closing;
    },
    async blackhole() {
      proxy.mode = 'blackhole';
      dropAll();
      await listen();
    },
    freeze() {
      for (const s of sockets) s.pause();
    },
    async restore() {
      if (proxy.mode === 'blackhole') dropAll();
      proxy.mode = 'forward';
      await listen();
    },
    async close() {
      const closing = stopListening();
      dropAll();
      await closing;
    },
  };
  await listen();
  return proxy;
}
