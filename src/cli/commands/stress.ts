import type { Command } from 'commander';

// Placeholder: implemented by its owner.
export function registerStress(_program: Command): void {}
