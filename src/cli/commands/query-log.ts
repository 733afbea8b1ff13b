import type { Command } from 'commander';

// Placeholder: implemented by its owner.
export function registerQueryLog(_program: Command): void {}
