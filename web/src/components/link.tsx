import type { ComponentProps, MouseEvent } from 'react';
import { navigate } from '../router';

/** An anchor's props (its ref included) with `to` for `href`. */
type LinkProps = Omit<ComponentProps<'a'>, 'href'> & { to: string };

/** An ordinary `<a href>` that navigates in-app on a plain left click (new tab etc. still work). */
export function Link({ to, onClick, ...rest }: LinkProps) {
  const handle = (ev: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(ev);
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    if (rest.target !== undefined && rest.target !== '_self') return;
    ev.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}
