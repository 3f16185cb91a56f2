/** The native menu: File > Open…, Open Recent, Export…, Quit; Help > Self-test (and the standard Edit/View roles). */
import type { MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  open(): void;
  openRecent(path: string): void;
  exportFlows(): void;
  selfTest(): void;
  quit(): void;
  recent: string[];
}

export function menuTemplate(a: MenuActions): MenuItemConstructorOptions[] {
  return [
    {
      label: 'File',
      submenu: [
        { label: 'Open…', accelerator: 'CmdOrCtrl+O', click: () => a.open() },
        {
          label: 'Open Recent',
          enabled: a.recent.length > 0,
          submenu: a.recent.map((p) => ({ label: p, click: () => a.openRecent(p) })),
        },
        { type: 'separator' },
        // opens the page's export panel (formats, folder, which flows)
        { label: 'Export…', accelerator: 'CmdOrCtrl+E', click: () => a.exportFlows() },
        { type: 'separator' },
        { label: 'Quit', accelerator: 'CmdOrCtrl+Q', click: () => a.quit() },
      ],
    },
    { role: 'editMenu' },
    { role: 'viewMenu' },
    // opens the page's self-test dialog: the shipped captures against tshark
    { label: 'Help', submenu: [{ label: 'Self-test…', click: () => a.selfTest() }] },
  ];
}

/** Capture files named on the command line (after Electron's own arguments). */
export function captureArgs(argv: string[]): string[] {
  return argv.filter((a) => /\.(pcap|pcapng|cap)$/i.test(a) && !a.startsWith('-'));
}
