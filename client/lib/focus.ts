/** Svelte attachment: move keyboard and screen-reader focus here when the page appears. */
export function focusOnMount(node: HTMLElement): void {
  node.setAttribute('tabindex', '-1');
  node.focus({ preventScroll: true });
}
