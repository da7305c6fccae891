import { useEffect } from 'react';

/** Sets the tab's title to "<title> · DeviceStreams" while the page is shown. */
export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · DeviceStreams`;
  }, [title]);
}
