/** Formats shown to operators, shared by every layer that reports sizes and durations. */

/** "1.00 TB", "60 GB", "512 MB": the AvailableCapacity style of Azure Stack (powers of 1024). */
export function formatCapacity(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = value >= 100 || unit === 0 ? 0 : 2;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** ISO-8601 duration as Azure Stack shows TimeTakenToCreate: "PT20M48.59S". */
export function formatIsoDuration(milliseconds: number): string {
  const totalSeconds = Math.max(0, milliseconds) / 1000;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = Math.round((totalSeconds % 60) * 100) / 100;
  return `PT${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}${seconds}S`;
}
