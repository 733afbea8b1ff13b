import { startNullResponder } from './null-responder.js';

/**
 * The null responder as a child process (forked with IPC): its own process, like a spawned or
 * remote server, so the floor it measures is the generator's and not a shared process's. Sends
 * its address, exits when the parent disconnects.
 */
const responder = await startNullResponder();
process.send?.({ type: 'ready', target: responder.target });
process.once('disconnect', () => {
  void responder.close().then(() => process.exit(0));
});
