// The tests' PKI is the harness's own (a scenario's TLS server gets its certificates the same way).
export { type Issued, ThrowawayPki as TestPki } from '../src/harness/throwaway-pki.js';
