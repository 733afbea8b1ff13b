import { parentPort } from 'node:worker_threads';
import { startNullResponder } from './null-responder.js';

/** The null responder on its own thread, so the generator measured against it keeps its loop to itself. */
const port = parentPort!;
const responder = await startNullResponder();
port.postMessage({ type: 'ready', target: responder.target });
port.on('message', (message: { type: string }) => {
  if (message.type === 'stop') void responder.close().then(() => port.close());
});
