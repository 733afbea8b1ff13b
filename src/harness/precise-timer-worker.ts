import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads';

/**
 * The timer thread behind PreciseTimer. It never returns to its event loop: it sleeps in
 * Atomics.wait (a futex, so no core is burned) until the earliest deadline or until the owner
 * signals a new request, then posts the ids that are due. libuv timers only have 1 ms
 * resolution; a futex timeout is good to tens of microseconds.
 */
interface Data {
  readonly signal: SharedArrayBuffer;
  readonly port: MessagePort;
}
interface Request {
  readonly id: number;
  /** Absolute time in ms (performance.timeOrigin + performance.now()). */
  readonly atMs: number;
}

const { signal, port } = workerData as Data;
const flag = new Int32Array(signal);
const now = (): number => performance.timeOrigin + performance.now();
const pending: Request[] = [];

for (;;) {
  Atomics.store(flag, 0, 0);
  let stop = false;
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
    if (m.message === 'stop') stop = true;
    else pending.push(m.message as Request);
  }
  if (stop) break;
  const t = now();
  const due: number[] = [];
  let nextMs = Number.POSITIVE_INFINITY;
  for (let i = pending.length - 1; i >= 0; i--) {
    const request = pending[i]!;
    if (request.atMs <= t) {
      due.push(request.id);
      pending[i] = pending[pending.length - 1]!;
      pending.pop();
    } else if (request.atMs < nextMs) nextMs = request.atMs;
  }
  if (due.length > 0) port.postMessage(due);
  if (nextMs === Number.POSITIVE_INFINITY) Atomics.wait(flag, 0, 0);
  else Atomics.wait(flag, 0, 0, nextMs - now());
}
port.close();
