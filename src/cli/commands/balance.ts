import type { Command } from 'commander';

// Placeholder: implemented by its owner.
export function registerBalance(_program: Command): void {}
