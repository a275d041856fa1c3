// Every test worker: the cpu backend's "install our node backend" banner (printed on first use,
// once per worker) is advice for applications, not test output. Only that message is dropped.
const warn = console.warn.bind(console);
console.warn = (...parts: unknown[]) => {
  if (typeof parts[0] === 'string' && parts[0].includes('looks like you are running TensorFlow.js in Node.js')) return;
  warn(...parts);
};

// A module, not a global script: its `warn` must not leak into the workspace type check as a global.
export {};
