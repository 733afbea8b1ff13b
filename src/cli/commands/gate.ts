import type { Command } from 'commander';

// Placeholder: implemented by its owner.
export function registerGate(_program: Command): void {}
