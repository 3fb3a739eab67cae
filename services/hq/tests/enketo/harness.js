// Browser side of the Enketo test harness: window.enketoHarness.{loadForm, serialize, submit}.
// Called from Python through Playwright's page.evaluate (see ../enketo_harness.py).
import { transform } from 'enketo-transformer/web';
import { Form } from 'enketo-core';
import events from 'enketo-core/src/js/event';

let form = null;

/** Returns the text of the primary instance's meta/instanceID (what Enketo generated). */
function instanceIdOf(xml) {
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const node = [...doc.documentElement.getElementsByTagName('*')].find(
        (el) => el.localName === 'instanceID'
    );
    return node ? node.textContent : null;
}

/**
 * Transforms an XForm with enketo-transformer (the browser's XSLTProcessor), inserts the HTML
 * form into the page and initializes enketo-core's Form. Rejects with the load errors.
 */
async function loadForm(xformXml, externals = []) {
    if (typeof XSLTProcessor === 'undefined') {
        throw new Error(
            'this browser has no XSLTProcessor (deprecated in Chromium), which the web build of ' +
                'enketo-transformer needs'
        );
    }
    const survey = await transform({ xform: xformXml });
    const container = document.getElementById('enketo-container');
    container.innerHTML = '';
    const range = document.createRange();
    const formEl = range.createContextualFragment(survey.form).querySelector('form.or');
    if (!formEl) {
        throw new Error('enketo-transformer returned no <form class="or">');
    }
    container.append(formEl);
    // Secondary instances from files (an entity list's CSV), as Enketo Express hands them
    // over: [{id, xml}] with the CSV already turned into <root><item>...</item></root>.
    const external = externals.map(({ id, xml }) => ({
        id,
        xml: new DOMParser().parseFromString(xml, 'text/xml'),
    }));
    form = new Form(formEl, { modelStr: survey.model, external }, {});
    const loadErrors = form.init();
    if (loadErrors.length) {
        throw new Error(`Enketo form init errors: ${loadErrors.join('; ')}`);
    }
    return { transformerVersion: survey.transformerVersion, languageMap: survey.languageMap };
}

/**
 * Does what Enketo Express does on "Submit": fire BeforeSave (end-time preloads), validate,
 * and take the record with non-relevant nodes removed.
 */
async function serialize() {
    if (!form) {
        throw new Error('serialize() before loadForm()');
    }
    // A user's click on Submit takes the focus from the field last typed into: its change event
    // is what makes Enketo write the value into the model.
    if (document.activeElement && document.activeElement !== document.body) {
        document.activeElement.blur();
        await new Promise((resolve) => setTimeout(resolve, 0));
    }
    form.view.html.dispatchEvent(events.BeforeSave());
    const valid = await form.validate();
    const invalid = [...form.view.html.querySelectorAll('.invalid-required, .invalid-constraint, .invalid-relevant')]
        .map((el) => el.querySelector('[name]')?.getAttribute('name') ?? el.className);
    const xml = form.getDataStr({ irrelevant: false });
    return { valid, invalid, xml, instanceId: form.instanceID ?? instanceIdOf(xml) };
}

/**
 * POSTs a record as Enketo Express's client does: multipart/form-data with one part
 * xml_submission_file (filename xml_submission_file, text/xml) and the OpenRosa headers.
 *
 * Gives up after timeoutMs: a 401 challenge that the browser context has no http_credentials
 * for waits for a login dialog that headless Chromium never shows.
 */
async function submit(url, xml, deprecatedId = '', timeoutMs = 30000) {
    const body = new FormData();
    body.append('xml_submission_file', new Blob([xml], { type: 'text/xml' }), 'xml_submission_file');
    const headers = { 'X-OpenRosa-Version': '1.0' };
    const instanceId = instanceIdOf(xml);
    if (instanceId) headers['X-OpenRosa-Instance-Id'] = instanceId;
    if (deprecatedId) headers['X-OpenRosa-Deprecated-Id'] = deprecatedId;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
        const response = await fetch(url, {
            method: 'POST',
            cache: 'no-cache',
            headers,
            body,
            signal: controller.signal,
        });
        return { status: response.status, body: await response.text() };
    } catch (error) {
        if (controller.signal.aborted) {
            throw new Error(
                `no answer within ${timeoutMs} ms (an HTTP auth challenge without ` +
                    'http_credentials on the browser context waits for a login dialog forever)'
            );
        }
        throw error;
    } finally {
        clearTimeout(timer);
    }
}

window.enketoHarness = { loadForm, serialize, submit };
window.enketoHarnessReady = true;
