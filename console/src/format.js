// Numbers and times for people: Indian digit grouping (1,23,456.50), rupees with ₹ and two
// decimals, strikes as integers, times in IST. The API sends amounts as JSON numbers (or, from
// some models, decimal strings): both are accepted, and nothing is ever shown as 2.605E+4.

const IST = 'Asia/Kolkata';
const rupeeFormat = new Intl.NumberFormat('en-IN', {
  style: 'currency', currency: 'INR', minimumFractionDigits: 2, maximumFractionDigits: 2,
});
const signedRupeeFormat = new Intl.NumberFormat('en-IN', {
  style: 'currency', currency: 'INR', minimumFractionDigits: 2, maximumFractionDigits: 2,
  signDisplay: 'exceptZero',
});
const priceFormat = new Intl.NumberFormat('en-IN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const integerFormat = new Intl.NumberFormat('en-IN', { maximumFractionDigits: 0 });
const strikeFormat = new Intl.NumberFormat('en-IN', { useGrouping: false, maximumFractionDigits: 2 });
const decimalFormat = new Intl.NumberFormat('en-IN', { maximumFractionDigits: 4 });
const timeFormat = new Intl.DateTimeFormat('en-IN', {
  timeZone: IST, hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});
const dateFormat = new Intl.DateTimeFormat('en-IN', { timeZone: IST, day: 'numeric', month: 'short', year: 'numeric' });
const shortDateFormat = new Intl.DateTimeFormat('en-IN', { timeZone: 'UTC', day: 'numeric', month: 'short' });
const isoDateFormat = new Intl.DateTimeFormat('en-CA', { timeZone: IST, year: 'numeric', month: '2-digit', day: '2-digit' });
const DASH = '–';

/** A number from a JSON number or decimal string; null when absent or not a number. */
export function toNumber(value) {
  if (value === null || value === undefined || value === '') return null;
  const number = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(number) ? number : null;
}

/** ₹1,23,456.50 (negative: -₹1,23,456.50). */
export function rupees(value) {
  const number = toNumber(value);
  return number === null ? DASH : rupeeFormat.format(number);
}

/** P&L with its sign: +₹1,200.00, -₹350.25, ₹0.00. */
export function pnl(value) {
  const number = toNumber(value);
  return number === null ? DASH : signedRupeeFormat.format(number);
}

/** 'profit' | 'loss' | 'flat': the class that colours a P&L. */
export function pnlClass(value) {
  const number = toNumber(value) || 0;
  if (number > 0) return 'profit';
  if (number < 0) return 'loss';
  return 'flat';
}

/** An option premium or a price: 1,234.05 (no currency sign). */
export function price(value) {
  const number = toNumber(value);
  return number === null ? DASH : priceFormat.format(number);
}

/** A strike as an integer, with no grouping: 24500. */
export function strike(value) {
  const number = toNumber(value);
  return number === null ? DASH : strikeFormat.format(number);
}

/** A quantity or a count: 1,500. */
export function quantity(value) {
  const number = toNumber(value);
  return number === null ? DASH : integerFormat.format(number);
}

/** A Greek or another small figure: up to 4 decimals. */
export function decimal(value) {
  const number = toNumber(value);
  return number === null ? DASH : decimalFormat.format(number);
}

/** HH:MM:SS in IST from an ISO timestamp. */
export function time(iso) {
  if (!iso) return DASH;
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? DASH : timeFormat.format(when);
}

/** 23 Nov 2026 from an ISO timestamp or a Date. */
export function date(iso) {
  if (!iso) return DASH;
  const when = iso instanceof Date ? iso : new Date(iso);
  return Number.isNaN(when.getTime()) ? DASH : dateFormat.format(when);
}

/** The IST calendar date (YYYY-MM-DD) of an instant. */
export function istDate(instant) {
  return isoDateFormat.format(instant instanceof Date ? instant : new Date(instant));
}

/** '2026-11-24' -> '24 Nov' */
export function expiry(isoDay) {
  if (!isoDay) return DASH;
  const when = new Date(`${isoDay}T00:00:00Z`);
  return Number.isNaN(when.getTime()) ? isoDay : shortDateFormat.format(when);
}

/** An option contract from the API's instrument object or its key 'NIFTY|2026-11-24|24000|CE'. */
export function instrument(value) {
  if (!value) return DASH;
  if (typeof value === 'string') {
    const [underlying, day, strikeText, optionType] = value.split('|');
    if (!optionType) return value;
    return `${underlying} ${expiry(day)} ${strike(strikeText)} ${optionType}`;
  }
  return `${value.underlying} ${expiry(value.expiry)} ${strike(value.strike)} ${value.option_type}`;
}

/** A label from an enum value: IRON_CONDOR -> Iron condor. */
export function label(value) {
  if (!value) return DASH;
  const text = String(value).toLowerCase().replaceAll('_', ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
