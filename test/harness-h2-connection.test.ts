import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { LedgerClient } from '../src/client/ledger-client.js';
import { frameMessage } from '../src/harness/grpc-wire.js';
import { h2CallOp } from '../src/harness/h2-call-op.js';
import { H2Channel, SERVER_TIME_KEY } from '../src/harness/h2-channel.js';
import { startH2NullResponder } from '../src/harness/h2-null-responder.js';
import { HpackDecoder, HpackError } from '../src/harness/hpack.js';
import {
  HUFFMAN_CODES,
  HUFFMAN_LENGTHS,
  huffmanDecode,
  huffmanEncode,
} from '../src/harness/hpack-huffman.js';
import { encodeRequest } from '../src/harness/ledger-messages.js';
import { ledgerServiceDefinition } from '../src/wire/ledger-proto.js';
import { h2Frame as frame } from './h2-raw-frame.js';

const ACCOUNT = frameMessage(encodeRequest('get', { accountId: 'z' }).subarray(5));
const channel = (target: string, extra: { maxStreamId?: number; maxResponseBytes?: number } = {}) =>
  new H2Channel(`http://${target}`, {
    maxResponseBytes: extra.maxResponseBytes ?? 64 << 20,
    deadlineTickMs: 5,
    maxStreamId: extra.maxStreamId,
  });
const get = (ch: H2Channel, deadlineMs = 5_000) => h2CallOp(ch, 'get', { accountId: 'a' }, deadlineMs);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Handler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, body: Buffer) => void;

/** A node:http2 server that hands each call's stream to `handler` once the request has arrived whole. */
async function h2Server(handler: Handler, options: http2.ServerOptions = {}) {
  const server = http2.createServer(options);
  const sessions: http2.ServerHttp2Session[] = [];
  server.on('session', (s) => {
    sessions.push(s);
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => handler(stream, headers, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    target,
    sessions,
    close() {
      for (const s of sessions) s.destroy();
      server.close();
    },
  };
}

function answer(
  stream: http2.ServerHttp2Stream,
  trailers: Record<string, string> = {},
  body = ACCOUNT,
): void {
  if (stream.destroyed) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', ...trailers }));
  stream.end(body);
}

describe('HPACK Huffman code (RFC 7541 Appendix B)', () => {
  it('rebuilds the RFC codes from the bit lengths, as a complete prefix code', () => {
    // Spot values from the RFC's hex column across every length.
    const rfc: [number, number, number][] = [
      [0, 0x1ff8, 13],
      [1, 0x7fffd8, 23],
      [9, 0xffffea, 24],
      [10, 0x3ffffffc, 30],
      [22, 0x3ffffffe, 30],
      [31, 0xffffffb, 28],
      [32, 0x14, 6],
      [48, 0x0, 5],
      [88, 0xfc, 8],
      [92, 0x7fff0, 19],
      [126, 0x1ffd, 13],
      [127, 0xffffffc, 28],
      [128, 0xfffe6, 20],
      [153, 0x1fffdc, 21],
      [192, 0x3ffffe0, 26],
      [199, 0x1ffffec, 25],
      [203, 0x7ffffde, 27],
      [220, 0xffffffd, 28],
      [249, 0xffffffe, 28],
      [255, 0x3ffffee, 26],
      [256, 0x3fffffff, 30],
    ];
    for (const [sym, code, length] of rfc) {
      expect([sym, HUFFMAN_CODES[sym], HUFFMAN_LENGTHS[sym]]).toEqual([sym, code, length]);
    }
    // Kraft sum of exactly 1: no code missing, none a prefix of another.
    expect(HUFFMAN_LENGTHS.reduce((sum, l) => sum + 2 ** (30 - l), 0)).toBe(2 ** 30);
  });

  it('decodes what it encodes for every octet, and the RFC example', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const coded = huffmanEncode(all);
    expect(huffmanDecode(coded, 0, coded.length)).toBe(all.toString('latin1'));
    const www = Buffer.from('f1e3c2e5f23a6ba0ab90f4ff', 'hex'); // RFC 7541 C.4.1
    expect(huffmanDecode(www, 0, www.length)).toBe('www.example.com');
    expect(huffmanEncode(Buffer.from('www.example.com'))).toEqual(www);
  });

  it('refuses EOS inside a string and padding that is not a short run of ones', () => {
    const eos = Buffer.from([0xff, 0xff, 0xff, 0xff]); // 30 ones = EOS
    expect(huffmanDecode(eos, 0, eos.length)).toBeUndefined();
    const zeroPad = Buffer.from([0x00]); // '0' (00000) then 000 padding
    expect(huffmanDecode(zeroPad, 0, 1)).toBeUndefined();
    const longPad = Buffer.from([0x07, 0xff]); // '0', then 11 bits of ones
    expect(huffmanDecode(longPad, 0, 2)).toBeUndefined();
    const ok = Buffer.from([0x07]); // '0' then 111
    expect(huffmanDecode(ok, 0, 1)).toBe('0');
  });
});

describe('HPACK decoder', () => {
  const decodeAll = (d: HpackDecoder, hex: string) => {
    const out: [string, string][] = [];
    const b = Buffer.from(hex.replace(/\s/g, ''), 'hex');
    d.decode(b, 0, b.length, { header: (n, v) => out.push([n, v]) });
    return out;
  };

  it('RFC 7541 C.4: three requests sharing one dynamic table, Huffman-coded', () => {
    const d = new HpackDecoder();
    expect(decodeAll(d, '828684418cf1e3c2e5f23a6ba0ab90f4ff')).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    expect(decodeAll(d, '828684be5886a8eb10649cbf')).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ]);
    expect(decodeAll(d, '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf')).toEqual([
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ]);
    expect(d.tableEntries).toBe(3);
  });

  it('evicts the oldest entries to fit, and refuses an index past the table', () => {
    const d = new HpackDecoder();
    // Literal with incremental indexing, new name: 0x40, name, value (no Huffman).
    const literal = (name: string, value: string) => {
      const v = Buffer.from(value);
      const len =
        v.length < 127
          ? Buffer.from([v.length])
          : Buffer.from([127, ((v.length - 127) & 0x7f) | 0x80, (v.length - 127) >> 7]);
      return Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name), len, v]).toString('hex');
    };
    decodeAll(d, literal('a', 'x'.repeat(1500)) + literal('b', 'y'.repeat(1500)));
    expect(d.tableEntries).toBe(2);
    decodeAll(d, literal('c', 'z'.repeat(1500))); // 3 x 1534 > 4096: 'a' goes
    expect(d.tableEntries).toBe(2);
    expect(decodeAll(d, 'be')).toEqual([['c', 'z'.repeat(1500)]]); // 62: newest
    expect(decodeAll(d, 'bf')).toEqual([['b', 'y'.repeat(1500)]]);
    expect(() => decodeAll(d, 'c0')).toThrow(HpackError); // 64: evicted
    // A size update to 0 empties the table; one above our 4096 or after a field is refused.
    decodeAll(d, '20');
    expect(d.tableEntries).toBe(0);
    expect(() => decodeAll(d, '3fe21f')).toThrow(HpackError); // 31 + 98 + 31 * 128 = 4097 > 4096
    expect(() => decodeAll(d, '8220')).toThrow(HpackError);
    expect(() => decodeAll(new HpackDecoder(), '80')).toThrow(HpackError); // index 0
    expect(() => decodeAll(new HpackDecoder(), '4185')).toThrow(HpackError); // value runs past the end
  });
});

describe('lean caller framing against node:http2 servers', () => {
  it('padded HEADERS and DATA frames (the server pads everything to the maximum)', async () => {
    const s = await h2Server((stream) => answer(stream, { [SERVER_TIME_KEY]: '7' }), {
      paddingStrategy: http2.constants.PADDING_STRATEGY_MAX,
    });
    const ch = channel(s.target);
    try {
      for (let i = 0; i < 5; i++) {
        expect(await get(ch)).toMatchObject({ type: 'ok', serverTimeUs: 7, accounts: [{ accountId: 'z' }] });
      }
    } finally {
      ch.close();
      s.close();
    }
  });

  it('thousands of calls started in one turn of the event loop (output over several slabs)', async () => {
    let n = 0;
    const s = await h2Server((stream) => answer(stream, { [SERVER_TIME_KEY]: String(++n) }));
    const ch = channel(s.target);
    try {
      const rs = await Promise.all(Array.from({ length: 3_000 }, () => get(ch, 20_000)));
      expect(rs.filter((r) => r.type !== 'ok')).toEqual([]);
      expect(new Set(rs.map((r) => r.serverTimeUs)).size).toBe(3_000);
    } finally {
      ch.close();
      s.close();
    }
  });

  it('a trailer split over HEADERS and CONTINUATION frames arrives whole', async () => {
    const long = `gone-${'é'.repeat(9_000)}`; // 54 KB percent-encoded: several 16 KB frames
    const s = await h2Server((stream) => {
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': '5',
          'grpc-message': encodeURIComponent(long),
        },
        { endStream: true },
      );
    });
    const ch = channel(s.target);
    try {
      expect(await get(ch)).toMatchObject({ type: 'fail', code: 'NOT_FOUND', message: long });
      expect(await get(ch)).toMatchObject({ type: 'fail', code: 'NOT_FOUND', message: long });
    } finally {
      ch.close();
      s.close();
    }
  });

  it('dynamic-table headers: changing values and evictions over many calls on one connection', async () => {
    let n = 0;
    const s = await h2Server((stream) => {
      n++;
      // A value per call (indexed by the server's encoder, evicting older ones) and the count.
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'x-fill': `${n}-${'f'.repeat(n * 37)}` },
        { waitForTrailers: true },
      );
      const count = String(n);
      stream.once('wantTrailers', () =>
        stream.sendTrailers({ 'grpc-status': '0', [SERVER_TIME_KEY]: count, 'x-also': count }),
      );
      stream.end(ACCOUNT);
    });
    const ch = channel(s.target);
    try {
      const seen: number[] = [];
      for (let i = 0; i < 60; i++) seen.push((await get(ch)).serverTimeUs!);
      const together = await Promise.all(Array.from({ length: 40 }, () => get(ch)));
      for (const r of together) seen.push(r.serverTimeUs!);
      expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(s.sessions).toHaveLength(1);
    } finally {
      ch.close();
      s.close();
    }
  });

  it('RST_STREAM codes map to gRPC codes; REFUSED_STREAM is sent again once', async () => {
    let mode = 'cancel';
    let refusals = 0;
    const s = await h2Server((stream) => {
      if (mode === 'cancel') stream.close(http2.constants.NGHTTP2_CANCEL);
      else if (mode === 'calm') stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      else if (mode === 'refuse-once' && refusals++ === 0)
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      else if (mode === 'refuse-always') stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      else answer(stream);
    });
    const ch = channel(s.target);
    try {
      expect(await get(ch)).toMatchObject({ type: 'info', code: 'CANCELLED' });
      mode = 'calm';
      expect(await get(ch)).toMatchObject({ type: 'fail', code: 'RESOURCE_EXHAUSTED' });
      mode = 'refuse-once';
      expect(await get(ch)).toMatchObject({ type: 'ok' });
      expect(refusals).toBe(2);
      mode = 'refuse-always';
      expect(await get(ch)).toMatchObject({ type: 'info', code: 'UNAVAILABLE' });
    } finally {
      ch.close();
      s.close();
    }
  });

  it("GOAWAY: calls above the server's last stream id move to a new connection, the others finish", async () => {
    const held: http2.ServerHttp2Stream[] = [];
    const s = await h2Server((stream) => {
      if (s.sessions.length > 1) return answer(stream, { [SERVER_TIME_KEY]: '2' });
      held.push(stream);
      if (held.length < 3) return;
      // Three calls arrived; only the first is kept.
      stream.session!.goaway(http2.constants.NGHTTP2_NO_ERROR, held[0]!.id!);
      setTimeout(() => answer(held[0]!, { [SERVER_TIME_KEY]: '1' }), 20);
    });
    const ch = channel(s.target);
    try {
      await ch.connect(5_000);
      const rs = await Promise.all([get(ch), get(ch), get(ch)]);
      expect(rs.map((r) => [r.type, r.serverTimeUs])).toEqual([
        ['ok', 1],
        ['ok', 2],
        ['ok', 2],
      ]);
      expect(s.sessions).toHaveLength(2);
    } finally {
      ch.close();
      s.close();
    }
  });

  it("the server's SETTINGS_MAX_CONCURRENT_STREAMS is kept: extra calls wait their turn", async () => {
    let active = 0;
    let most = 0;
    const s = await h2Server(
      (stream) => {
        active++;
        most = Math.max(most, active);
        setTimeout(() => {
          active--;
          answer(stream);
        }, 20);
      },
      { settings: { maxConcurrentStreams: 2 } },
    );
    const ch = channel(s.target);
    try {
      const rs = await Promise.all(Array.from({ length: 12 }, () => get(ch)));
      expect(rs.every((r) => r.type === 'ok')).toBe(true);
      expect(most).toBe(2);
    } finally {
      ch.close();
      s.close();
    }
  });

  it('stream ids running out: new calls move to a fresh connection, none is lost', async () => {
    const ids: number[] = [];
    const s = await h2Server((stream) => {
      ids.push(stream.id!);
      answer(stream);
    });
    const ch = channel(s.target, { maxStreamId: 5 });
    try {
      for (let i = 0; i < 7; i++) expect((await get(ch)).type).toBe('ok');
      const rs = await Promise.all(Array.from({ length: 20 }, () => get(ch)));
      expect(rs.every((r) => r.type === 'ok')).toBe(true);
      expect(Math.max(...ids)).toBe(5);
      expect(s.sessions.length).toBeGreaterThanOrEqual(Math.ceil(27 / 3));
      // Used-up connections close once their calls are answered.
      for (let i = 0; i < 50 && s.sessions.filter((x) => !x.closed && !x.destroyed).length > 1; i++)
        await sleep(20);
      expect(s.sessions.filter((x) => !x.closed && !x.destroyed).length).toBeLessThanOrEqual(1);
    } finally {
      ch.close();
      s.close();
    }
  });

  it('close() with a call in flight: its deadline still ends it, then the socket closes', async () => {
    const s = await h2Server(() => {}); // never answers
    const ch = channel(s.target);
    try {
      const pending = get(ch, 200);
      await sleep(50);
      ch.close();
      expect(await pending).toMatchObject({ type: 'info', code: 'DEADLINE_EXCEEDED' });
      for (let i = 0; i < 100 && !s.sessions[0]!.closed && !s.sessions[0]!.destroyed; i++) await sleep(10);
      expect(s.sessions[0]!.closed || s.sessions[0]!.destroyed).toBe(true);
    } finally {
      s.close();
    }
  });

  it('PING from the server is acknowledged', async () => {
    const s = await h2Server((stream) => answer(stream));
    const ch = channel(s.target);
    try {
      await ch.connect(5_000);
      expect((await get(ch)).type).toBe('ok');
      const acked = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 3_000);
        s.sessions[0]!.ping((err) => {
          clearTimeout(timer);
          resolve(err === null);
        });
      });
      expect(acked).toBe(true);
    } finally {
      ch.close();
      s.close();
    }
  });

  it("a request larger than the server's windows is sent as they open (WINDOW_UPDATE)", async () => {
    const s = await h2Server(
      (stream, _h, body) => answer(stream, { [SERVER_TIME_KEY]: String(body.length) }),
      {
        settings: { initialWindowSize: 1_000 },
      },
    );
    const ch = channel(s.target);
    try {
      const big = frameMessage(Buffer.alloc(200_000, 7));
      const r = await ch.call('/ledger.v1.Ledger/GetBalance', big, 10_000);
      expect(r).toMatchObject({ code: 0, serverTimeUs: big.length });
    } finally {
      ch.close();
      s.close();
    }
  });

  it('a response larger than our connection window arrives whole (we send WINDOW_UPDATE as it is read)', async () => {
    const huge = frameMessage(Buffer.alloc(40 << 20, 3));
    const s = await h2Server((stream) => answer(stream, {}, huge));
    const ch = channel(s.target);
    try {
      const r = await ch.call('/ledger.v1.Ledger/GetBalance', ACCOUNT, 30_000);
      expect(r.code).toBe(0);
      expect(r.body!.length).toBe(40 << 20);
    } finally {
      ch.close();
      s.close();
    }
  });
});

describe('lean caller against misbehaving raw servers', () => {
  /** A TCP server that answers the preface with SETTINGS and then the given bytes per HEADERS seen. */
  async function rawServer(reply: () => Buffer) {
    const seen: Buffer[] = [];
    const server = net.createServer((sock) => {
      sock.on('error', () => {});
      sock.write(Buffer.from('000000040000000000', 'hex')); // empty SETTINGS
      let sent = false;
      sock.on('data', (d: Buffer) => {
        seen.push(d);
        // Reply once the first HEADERS frame (type 1) has arrived.
        if (!sent && Buffer.concat(seen).includes(Buffer.from([0x01, 0x04, 0, 0, 0, 1]))) {
          sent = true;
          sock.write(reply());
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
      seen,
      close: () => server.close(),
    };
  }

  it('an undecodable header block is a connection error: GOAWAY(COMPRESSION_ERROR), calls UNAVAILABLE', async () => {
    const s = await rawServer(() => frame(1, 0x5, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])));
    const ch = channel(s.target);
    try {
      const r = await get(ch);
      expect(r).toMatchObject({ type: 'info', code: 'UNAVAILABLE' });
      expect(r.message).toContain('HTTP/2 protocol error');
      for (let i = 0; i < 100 && !Buffer.concat(s.seen).includes(Buffer.from([0, 0, 8, 7])); i++)
        await sleep(10);
      const all = Buffer.concat(s.seen);
      const at = all.indexOf(Buffer.from([0x00, 0x00, 0x08, 0x07]));
      expect(at).toBeGreaterThan(0);
      expect(all.readUInt32BE(at + 13)).toBe(0x9); // COMPRESSION_ERROR
    } finally {
      ch.close();
      s.close();
    }
  });

  it('DATA before the response HEADERS fails that call (INTERNAL) with RST_STREAM(PROTOCOL_ERROR)', async () => {
    const s = await rawServer(() => frame(0, 0x1, 1, ACCOUNT));
    const ch = channel(s.target);
    try {
      expect(await get(ch)).toMatchObject({
        type: 'info',
        code: 'INTERNAL',
        message: 'response DATA before its HEADERS',
      });
      const rst = Buffer.from([0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 1]); // RST_STREAM(1, PROTOCOL_ERROR)
      for (let i = 0; i < 100 && !Buffer.concat(s.seen).includes(rst); i++) await sleep(10);
      expect(Buffer.concat(s.seen).includes(rst)).toBe(true);
    } finally {
      ch.close();
      s.close();
    }
  });

  it('a frame above our maximum frame size is a connection error', async () => {
    const s = await rawServer(() => frame(0, 0, 1, Buffer.alloc(20_000)));
    const ch = channel(s.target);
    try {
      const r = await get(ch);
      expect(r).toMatchObject({ type: 'info', code: 'UNAVAILABLE' });
      expect(r.message).toContain('above the 16384');
    } finally {
      ch.close();
      s.close();
    }
  });
});

describe('lean caller against grpc-js servers', () => {
  it('a grpc-js server shutting down (GOAWAY): calls in flight finish, later calls fail UNAVAILABLE', async () => {
    const server = new grpc.Server();
    server.addService(ledgerServiceDefinition(), {
      GetBalance: (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
        setTimeout(() => cb(null, { account_id: 'slow', balance: '1', version: '1' }), 150),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const ch = channel(`127.0.0.1:${port}`);
    try {
      await ch.connect(5_000);
      const inFlight = Promise.all([get(ch), get(ch), get(ch)]);
      await sleep(50);
      const down = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      const rs = await inFlight;
      expect(rs.map((r) => r.type)).toEqual(['ok', 'ok', 'ok']);
      expect(rs[0]!.accounts![0]!.accountId).toBe('slow');
      await down;
      expect(await get(ch, 2_000)).toMatchObject({ type: 'info', code: 'UNAVAILABLE' });
      expect(ch.inFlight).toBe(0);
    } finally {
      ch.close();
      server.forceShutdown();
    }
  });
});

describe('null responder on the same framing', () => {
  it('answers the lean caller and grpc-js alike, thousands of calls at once', async () => {
    const r = await startH2NullResponder();
    const ch = channel(r.target);
    const client = new LedgerClient(r.target, {});
    try {
      const lean = await Promise.all(Array.from({ length: 3_000 }, () => get(ch, 20_000)));
      expect(lean.filter((x) => x.type !== 'ok')).toEqual([]);
      expect(lean[0]!.accounts![0]).toEqual({ accountId: 's-123', balance: 1_000_000n, version: 42n });
      // grpc-js (node:http2 underneath, 64 KiB windows): flow control and HPACK from the other side.
      const viaGrpcJs = await Promise.all(Array.from({ length: 3_000 }, () => client.getBalance('x')));
      expect(viaGrpcJs.every((x) => x.value.accountId === 's-123')).toBe(true);
    } finally {
      client.close();
      ch.close();
      await r.close();
    }
  });
});
