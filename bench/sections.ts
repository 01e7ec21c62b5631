/** A bench section adds its keys to the JSON result and its lines to the table. */
export interface Section {
  name: string;
  /** ctx: the best engine MatMul throughput of the run so far (measured again just before this section), per wall and per CPU second. */
  run(result: Record<string, unknown>, rows: { what: string; value: string }[], ctx: { peak: number; peakPerCpuS: number }): Promise<void>;
}

const { modelSections } = await import('./model.js');
const { familiesSection } = await import('./families.js');
const { trainSection } = await import('./train.js');
const { trainGridSection } = await import('./train-grid.js');
const { perfSections } = await import('./perf.js');
const { indexSections } = await import('./store.js');
const { captionSection } = await import('./caption.js');
const { serveSection } = await import('./serve.js');
const { webSection } = await import('./web.js');

export const sections: Section[] = [
  ...modelSections,
  familiesSection,
  captionSection,
  ...perfSections,
  trainSection,
  trainGridSection,
  ...indexSections,
  serveSection,
  webSection,
];
