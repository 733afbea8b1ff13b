import type { Command } from 'commander';

// Placeholder: implemented by its owner.
export function registerSnapshot(_program: Command): void {}
