import { HARNESS_LIMITS } from './harness-limits.js';
import type { InProcessServer } from './in-process-server.js';
import { type ProcessMemory, processMemory } from './process-rss.js';
import type { ResourceReport } from './run-result.js';
import type { ServerResourceSample } from './server-worker-protocol.js';
import { threadCpuMs } from './thread-cpu.js';

/** CPU, event-loop, memory and lock figures before, during and after the phases. */
export class ResourceMeter {
  private cpu0 = process.cpuUsage();
  private elu0 = performance.eventLoopUtilization();
  private mem0 = process.memoryUsage();
  private wall0 = performance.now();
  private mainCpu0: number | undefined;
  private server0: ServerResourceSample | undefined;
  private serverBaseline: ServerResourceSample | undefined;
  private rssBaseline = 0;
  private rssMax = 0;
  private serverRssMax: number | undefined;
  /** A spawned server's memory at the start, after the first phase and at the end. */
  private spawned0: ProcessMemory | undefined;
  private spawnedBaseline: ProcessMemory | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: InProcessServer | undefined,
    /** A spawned server's current pid: its RSS is sampled apart from this process's. */
    private readonly spawnedPid: () => number | undefined,
  ) {}

  private sampleSpawnedRss(): ProcessMemory | undefined {
    const pid = this.spawnedPid();
    const memory = pid === undefined ? undefined : processMemory(pid);
    if (memory !== undefined) this.serverRssMax = Math.max(this.serverRssMax ?? 0, memory.rssBytes);
    return memory;
  }

  async begin(): Promise<void> {
    this.server0 = await this.server?.sample({ gc: true });
    this.cpu0 = process.cpuUsage();
    this.elu0 = performance.eventLoopUtilization();
    this.mem0 = process.memoryUsage();
    this.wall0 = performance.now();
    this.mainCpu0 = threadCpuMs();
    this.rssBaseline = this.mem0.rss;
    this.serverBaseline = this.server0;
    this.rssMax = this.mem0.rss;
    this.spawned0 = this.sampleSpawnedRss();
    this.spawnedBaseline = this.spawned0;
    this.timer = setInterval(() => {
      this.rssMax = Math.max(this.rssMax, process.memoryUsage.rss());
      this.sampleSpawnedRss();
    }, HARNESS_LIMITS.statusIntervalMs);
    this.timer.unref();
  }

  /** Memory after the first phase (a warm-up phase): the baseline for growth thresholds. */
  async baseline(): Promise<void> {
    this.serverBaseline = (await this.server?.sample({ gc: true })) ?? this.serverBaseline;
    this.rssBaseline = process.memoryUsage.rss();
    this.spawnedBaseline = this.sampleSpawnedRss() ?? this.spawnedBaseline;
  }

  async end(serviceMsOfWrites: number): Promise<ResourceReport> {
    clearInterval(this.timer);
    const wallMs = performance.now() - this.wall0;
    const mainCpu1 = threadCpuMs();
    const cpu = process.cpuUsage(this.cpu0);
    const elu = performance.eventLoopUtilization(this.elu0);
    const mem = process.memoryUsage();
    this.rssMax = Math.max(this.rssMax, mem.rss);
    const spawned1 = this.sampleSpawnedRss();
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const server1 = await this.server?.sample({ gc: true });
    const report: ResourceReport = {
      server: this.server === undefined ? 'remote' : 'in-process',
      wallMs,
      processCpuCores: cpuMs / wallMs,
      clientEventLoopUtilization: elu.utilization,
      rssBeforeBytes: this.mem0.rss,
      rssAfterBytes: mem.rss,
      rssMaxBytes: this.rssMax,
      rssBaselineBytes: this.rssBaseline,
      ...(this.serverRssMax === undefined ? {} : { serverRssMaxBytes: this.serverRssMax }),
      ...(spawned1 === undefined || this.spawned0 === undefined
        ? {}
        : {
            serverMemory: {
              before: this.spawned0,
              baseline: this.spawnedBaseline ?? this.spawned0,
              after: spawned1,
            },
          }),
      clientHeapBeforeBytes: this.mem0.heapUsed,
      clientHeapAfterBytes: mem.heapUsed,
    };
    if (this.mainCpu0 !== undefined && mainCpu1 !== undefined) {
      report.generatorCpuCores = (mainCpu1 - this.mainCpu0) / wallMs;
    }
    if (server1 !== undefined && this.server0 !== undefined) {
      const serverActiveMs = server1.eventLoopActiveMs - this.server0.eventLoopActiveMs;
      const lockWaitMs = server1.engine.lockWaitMsTotal - this.server0.engine.lockWaitMsTotal;
      Object.assign(report, {
        serverEventLoopUtilization: serverActiveMs / wallMs,
        serverCpuShare: cpuMs > 0 ? Math.min(1, serverActiveMs / cpuMs) : 0,
        serverHeapBeforeBytes: this.server0.heapUsedBytes,
        serverHeapBaselineBytes: this.serverBaseline?.heapUsedBytes,
        serverHeapAfterBytes: server1.heapUsedBytes,
        lockWaitMs,
        lockWaitShare: serviceMsOfWrites > 0 ? lockWaitMs / serviceMsOfWrites : 0,
        txidsHeld: server1.engine.txidsHeld,
        txidSwept: server1.engine.txidSwept,
        txidSweepMaxSliceMs: server1.engine.txidSweepMaxSliceMs,
      } satisfies Partial<ResourceReport>);
      if (server1.threadCpuMs !== undefined && this.server0.threadCpuMs !== undefined) {
        report.serverCpuCores = (server1.threadCpuMs - this.server0.threadCpuMs) / wallMs;
      }
    }
    return report;
  }
}
