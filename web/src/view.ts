/** A page view: its element, and what it starts and stops when shown and left. */
export interface View {
  el: HTMLElement;
  /** Called once the element is in the page. */
  shown?(): void;
  /** Called when another view replaces it. */
  left?(): void;
}

/** True when a key event comes from a text field (typing there is not a shortcut). */
export function typing(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  return !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
}
