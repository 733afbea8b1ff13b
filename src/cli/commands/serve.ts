import type { Command } from 'commander';

// Placeholder: implemented by its owner.
export function registerServe(_program: Command): void {}
