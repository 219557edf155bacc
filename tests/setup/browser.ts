// globalSetup of the browser project: one line when Chromium is missing (the files then skip).
import { announce } from '../helpers/requirements.js';

export default function setup(): void {
  announce('browser');
}
