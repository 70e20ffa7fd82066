/** The HTML report. (Being written: see the issue 16 brief.) */
import { AzsError } from '../protocol/errors.js';
import type { ParamsOf, ResultOf } from '../protocol/methods.js';

export class ReportService {
  async write(_params: ParamsOf<'report.write'>): Promise<ResultOf<'report.write'>> {
    throw new AzsError('MethodNotFound', 'The report is not written yet.');
  }
}
