/**
 * Sets `record[key] = value` as an own, enumerable property, even for keys like `__proto__`
 * that a plain assignment would turn into a prototype change. Tensor names come from files.
 */
export function setOwn<Value>(record: Record<string, Value>, key: string, value: Value): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
