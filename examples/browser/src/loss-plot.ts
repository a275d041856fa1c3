const SVG = 'http://www.w3.org/2000/svg';

function element<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  parent?.appendChild(node);
  return node;
}

/** An exponential moving average, as training dashboards smooth a noisy per-step loss. */
export function smooth(values: readonly number[], weight = 0.6): number[] {
  const result: number[] = [];
  let last = values[0] ?? 0;
  for (const value of values) {
    last = last * weight + value * (1 - weight);
    result.push(last);
  }
  return result;
}

function niceNumber(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/**
 * A small SVG line plot of the training loss per step (raw and smoothed), redrawn as steps come
 * in. The plotted values are on the element as `data-losses` (JSON) and `data-steps`.
 */
export class LossPlot {
  private losses: number[] = [];
  private readonly width = 640;
  private readonly height = 240;
  private readonly margin = { left: 56, right: 14, top: 12, bottom: 40 };

  constructor(
    private readonly svg: SVGSVGElement,
    private totalSteps = 0,
  ) {
    svg.setAttribute('viewBox', `0 0 ${this.width} ${this.height}`);
    svg.setAttribute('role', 'img');
    this.draw();
  }

  reset(totalSteps: number): void {
    this.losses = [];
    this.totalSteps = totalSteps;
    this.draw();
  }

  add(loss: number): void {
    this.losses.push(loss);
    this.draw();
  }

  get values(): readonly number[] {
    return this.losses;
  }

  private draw(): void {
    const { svg, width, height, margin } = this;
    svg.replaceChildren();
    svg.dataset.losses = JSON.stringify(this.losses);
    svg.dataset.steps = String(this.losses.length);
    svg.setAttribute(
      'aria-label',
      this.losses.length === 0 ? 'loss plot: no steps yet' : `loss plot: ${this.losses.length} steps, from ${this.losses[0]!.toFixed(3)} to ${this.losses.at(-1)!.toFixed(3)}`,
    );
    const plotWidth = width - margin.left - margin.right;
    const plotHeight = height - margin.top - margin.bottom;
    const axes = element('g', { class: 'axes' }, svg);
    element('line', { x1: margin.left, y1: margin.top + plotHeight, x2: margin.left + plotWidth, y2: margin.top + plotHeight }, axes);
    element('line', { x1: margin.left, y1: margin.top, x2: margin.left, y2: margin.top + plotHeight }, axes);
    if (this.losses.length === 0) {
      const text = element('text', { x: margin.left + plotWidth / 2, y: margin.top + plotHeight / 2, 'text-anchor': 'middle', class: 'empty' }, svg);
      text.textContent = 'the training loss appears here, step by step';
      return;
    }
    const steps = Math.max(this.totalSteps, this.losses.length, 2);
    const max = Math.max(...this.losses);
    const min = Math.min(0, ...this.losses);
    const x = (step: number) => margin.left + ((step - 1) / (steps - 1)) * plotWidth;
    const y = (loss: number) => margin.top + (1 - (loss - min) / (max - min || 1)) * plotHeight;
    for (const fraction of [0, 0.5, 1]) {
      const value = min + (max - min) * fraction;
      element('line', { x1: margin.left, x2: margin.left + plotWidth, y1: y(value), y2: y(value), class: 'grid' }, axes);
      const label = element('text', { x: margin.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, axes);
      label.textContent = niceNumber(value);
    }
    for (const step of [...new Set([1, Math.round(steps / 2), steps])]) {
      const label = element('text', { x: x(step), y: margin.top + plotHeight + 15, 'text-anchor': 'middle' }, axes);
      label.textContent = String(step);
    }
    const stepLabel = element('text', { x: margin.left + plotWidth / 2, y: height - 4, 'text-anchor': 'middle', class: 'axis-label' }, axes);
    stepLabel.textContent = 'step';
    const lossLabel = element(
      'text',
      { x: 14, y: margin.top + plotHeight / 2, 'text-anchor': 'middle', class: 'axis-label', transform: `rotate(-90 14 ${margin.top + plotHeight / 2})` },
      axes,
    );
    lossLabel.textContent = 'loss';
    const points = (values: readonly number[]) => values.map((value, index) => `${x(index + 1).toFixed(1)},${y(value).toFixed(1)}`).join(' ');
    element('polyline', { points: points(this.losses), class: 'raw' }, svg);
    if (this.losses.length > 2) element('polyline', { points: points(smooth(this.losses)), class: 'smoothed' }, svg);
    const last = this.losses.at(-1)!;
    element('circle', { cx: x(this.losses.length), cy: y(last), r: 3.5, class: 'last' }, svg);
  }
}
