/**
 * Files on the terminal page's device: a "Files" button in the toolbar opens a panel to upload a
 * file (chosen with the file input, or dropped on the panel) to a path on the device, with a
 * progress bar and Cancel, and to download a file by its path through the browser's own download.
 * Operators and admins only, as the console server rules: a viewer's terminal page has no terminal
 * and no Files (no-terminal-page.tsx). Esc closes the panel and puts focus back on the button.
 */
import { useEffect, useId, useRef, useState, type DragEvent, type FormEvent } from 'react';
import { MAX_CONSOLE_UPLOAD_BYTES } from '../../../shared/console-files';
import { formatBytes } from '../format';
import { uploadPath } from '../files/file-transfer';
import { progressText, useFileDownload, useFileUpload } from '../hooks/use-file-transfer';
import '../files/file-transfer.css';

export function FileTransferButton({ deviceId }: { deviceId: string }) {
  const [open, setOpen] = useState(false);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const panelId = useId();
  const close = () => {
    setOpen(false);
    buttonRef.current?.focus();
  };
  return (
    <>
      <button ref={buttonRef} type="button" className="button button-small button-dark" aria-expanded={open} aria-controls={panelId} onClick={() => setOpen(!open)}>
        Files
      </button>
      {open && <FileTransferPanel id={panelId} deviceId={deviceId} onClose={close} />}
    </>
  );
}

function FileTransferPanel({ id, deviceId, onClose }: { id: string; deviceId: string; onClose: () => void }) {
  const headingId = useId();
  const panelRef = useRef<HTMLElement>(null);
  useEffect(() => {
    panelRef.current?.querySelector<HTMLElement>('input, a[href], button:not(.file-panel-close)')?.focus();
  }, []);
  return (
    <section
      ref={panelRef}
      id={id}
      className="file-panel"
      aria-labelledby={headingId}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          onClose();
        }
      }}
    >
      <div className="file-panel-head">
        <h2 id={headingId}>Files on {deviceId}</h2>
        <button type="button" className="button button-small button-quiet file-panel-close" onClick={onClose} aria-label="Close files">
          Close
        </button>
      </div>
      <UploadForm deviceId={deviceId} />
      <DownloadForm deviceId={deviceId} />
      <p className="file-panel-note">
        Paths are on the device, relative to its file server&apos;s root. The device needs <code>devicestreams file-server</code> mapped as <code>files</code> on its agent.
      </p>
    </section>
  );
}

function UploadForm({ deviceId }: { deviceId: string }) {
  const { state, start, cancel } = useFileUpload(deviceId);
  const [file, setFile] = useState<File | null>(null);
  const [path, setPath] = useState('');
  const [dragging, setDragging] = useState(false);
  const [tooBig, setTooBig] = useState(false);
  const inputId = useId();
  const pathId = useId();
  const hintId = useId();
  const busy = state.phase === 'uploading';

  const choose = (f: File | null) => {
    setFile(f);
    setTooBig(f !== null && f.size > MAX_CONSOLE_UPLOAD_BYTES);
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    if (!busy) choose(e.dataTransfer.files.item(0));
  };
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (file === null || tooBig || busy) return;
    start(file, uploadPath(path, file.name));
  };

  return (
    <form
      className={dragging ? 'file-upload file-drop-active' : 'file-upload'}
      onSubmit={onSubmit}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
      aria-label="Upload a file"
    >
      <h3>Upload</h3>
      <div className="file-drop">
        <label htmlFor={inputId} className="field">
          Choose a file, or drop one here
        </label>
        <input id={inputId} type="file" disabled={busy} onChange={(e) => choose(e.target.files?.item(0) ?? null)} />
        {file !== null && <span className="muted">{file.name}, {formatBytes(file.size)}</span>}
      </div>
      {tooBig && (
        <p className="form-error" role="alert">
          This file is larger than the console uploads ({formatBytes(MAX_CONSOLE_UPLOAD_BYTES)}); use <code>devicestreams cp</code>.
        </p>
      )}
      <label htmlFor={pathId} className="field">
        Path on the device
      </label>
      <input id={pathId} type="text" className="mono" value={path} placeholder={file?.name ?? 'uploads/firmware.bin'} disabled={busy} aria-describedby={hintId} onChange={(e) => setPath(e.target.value)} />
      <span id={hintId} className="file-hint muted">
        Empty, or ending in /, keeps the file&apos;s name. An existing file is replaced once every byte has arrived.
      </span>
      <div className="file-actions">
        <button type="submit" className="button button-primary button-small" disabled={file === null || tooBig || busy}>
          Upload
        </button>
        {busy && (
          <button type="button" className="button button-small" onClick={cancel}>
            Cancel upload
          </button>
        )}
      </div>
      {busy && (
        <div className="file-progress">
          <progress max={state.progress.total} value={state.progress.loaded} aria-label={`Uploading ${state.path}`} aria-valuetext={progressText(state.progress)} />
          <span className="muted">{progressText(state.progress)}</span>
        </div>
      )}
      <p className={state.phase === 'failed' ? 'form-error' : 'file-status'} role={state.phase === 'failed' ? 'alert' : 'status'}>
        {state.phase === 'done' && `Uploaded ${state.path} (${formatBytes(state.size)}).`}
        {state.phase === 'cancelled' && `Upload of ${state.path} cancelled; nothing was written on the device.`}
        {state.phase === 'failed' && `Upload of ${state.path} failed: ${state.message}`}
      </p>
    </form>
  );
}

function DownloadForm({ deviceId }: { deviceId: string }) {
  const { state, start } = useFileDownload(deviceId);
  const [path, setPath] = useState('');
  const pathId = useId();
  const hintId = useId();
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (path.trim() !== '') start(path.trim());
  };
  return (
    <form className="file-download" onSubmit={onSubmit} aria-label="Download a file">
      <h3>Download</h3>
      <label htmlFor={pathId} className="field">
        Path of the file on the device
      </label>
      <input id={pathId} type="text" className="mono" value={path} placeholder="logs/app.log" aria-describedby={hintId} onChange={(e) => setPath(e.target.value)} />
      <span id={hintId} className="file-hint muted">
        The file goes to your browser&apos;s downloads; its progress shows there.
      </span>
      <div className="file-actions">
        <button type="submit" className="button button-primary button-small" disabled={path.trim() === '' || state.phase === 'checking'}>
          Download
        </button>
      </div>
      <p className={state.phase === 'failed' ? 'form-error' : 'file-status'} role={state.phase === 'failed' ? 'alert' : 'status'}>
        {state.phase === 'checking' && `Asking the device for ${state.path}…`}
        {state.phase === 'started' && `Downloading ${state.path} (${formatBytes(state.size)}); see your browser's downloads for its progress.`}
        {state.phase === 'failed' && `Cannot download ${state.path}: ${state.message}`}
      </p>
    </form>
  );
}
