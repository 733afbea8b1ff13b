/**
 * The abuse bench's sentinel in a process of its own (forked with IPC; argv: target, period ms):
 * its calls share an event loop and a heap with nothing else. In the bench's process they would
 * wait behind the bench's own work (forking the attacker, sampling /proc, its garbage) and report
 * it as the server's latency. On 'stop' it sends its samples back and exits.
 */
import { type SentinelSample, sentinelLoop } from './sentinel-loop.js';

const [target, periodMs] = [process.argv[2]!, Number(process.argv[3])];
const samples: SentinelSample[] = [];
let stop = false;
process.once('message', () => {
  stop = true;
});
await sentinelLoop(target, periodMs, () => stop, samples);
process.send!({ samples }, () => process.disconnect());
